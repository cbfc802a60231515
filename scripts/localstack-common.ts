/** What the LocalStack scripts share: the free image tag and whether a Docker engine answers. */
import { spawn, spawnSync } from 'node:child_process';
import { ROOT } from './package.ts';

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

/** Run a command from the repository root with the terminal attached; its exit code (127: not found). */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: 'inherit' });
    child.on('error', () => done(127));
    child.on('exit', (code, signal) => done(code ?? (signal ? 1 : 0)));
  });
}
