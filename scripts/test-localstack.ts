/**
 * `npm run test:localstack`: opt-in run of the integration suite against LocalStack
 * (localstack/docker-compose.yml). Starts LocalStack, runs the bootstrap (its init
 * step), runs the integration project with every AWS client pointed at
 * http://127.0.0.1:4566, and stops LocalStack. Without a Docker engine, or with a
 * tag that needs a token that is not set, it says why and exits 0 (skipped).
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dockerError, FREE_TAG, run } from './localstack-common.ts';
import { ROOT } from './package.ts';

export { FREE_TAG };
export const LOCALSTACK_URL = 'http://127.0.0.1:4566';

export type Plan = { run: true; tag: string } | { run: false; reason: string };

export function plan(opts: {
  dockerError: string | null;
  tag: string | undefined;
  token: string | undefined;
}): Plan {
  if (opts.dockerError !== null) return { run: false, reason: `no Docker engine (${opts.dockerError})` };
  const tag = opts.tag || FREE_TAG;
  if (tag !== FREE_TAG && !opts.token) {
    return {
      run: false,
      reason: `no token: LocalStack ${tag} needs LOCALSTACK_AUTH_TOKEN (unset LOCALSTACK_TAG to use ${FREE_TAG})`,
    };
  }
  return { run: true, tag };
}

async function main(): Promise<number> {
  const p = plan({
    dockerError: dockerError(),
    tag: process.env.LOCALSTACK_TAG,
    token: process.env.LOCALSTACK_AUTH_TOKEN,
  });
  if (!p.run) {
    process.stdout.write(`test:localstack skipped: ${p.reason}\n`);
    return 0;
  }
  const compose = ['compose', '-f', join(ROOT, 'localstack/docker-compose.yml')];
  const env = {
    ...process.env,
    LOCALSTACK_TAG: p.tag,
    AWS_ENDPOINT_URL: LOCALSTACK_URL,
    AWS_REGION: process.env.AWS_REGION || 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    SC_TEST_LOCALSTACK: LOCALSTACK_URL,
  };
  process.stdout.write(`test:localstack: LocalStack ${p.tag} on ${LOCALSTACK_URL}\n`);
  try {
    let code = await run('docker', [...compose, 'up', '-d', '--wait', 'localstack'], env);
    if (code === 0) code = await run('docker', [...compose, 'run', '--rm', 'bootstrap'], env);
    if (code === 0) {
      code = await run(
        process.execPath,
        [
          '--experimental-vm-modules',
          'node_modules/jest/bin/jest.js',
          '--selectProjects',
          'integration',
          '--runInBand',
        ],
        env,
      );
    }
    return code;
  } finally {
    await run('docker', [...compose, 'down', '--volumes'], env);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
