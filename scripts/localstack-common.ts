/** What the LocalStack scripts share: the free image tag and whether a Docker engine answers. */
import { spawnSync } from 'node:child_process';

/** The last LocalStack tag that starts without an account (later tags exit 55 without a token). */
export const FREE_TAG = '4.14.0';

/** `docker info` in one line: null when a Docker engine answers, else why not. */
export function dockerError(): string | null {
  const res = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], {
    encoding: 'utf8',
    timeout: 15_000,
  });
  if (res.error !== undefined) return `docker: ${res.error.message}`;
  if (res.status !== 0)
    return (res.stderr || res.stdout).trim().split('\n')[0] ?? `docker info exited ${res.status}`;
  return null;
}
