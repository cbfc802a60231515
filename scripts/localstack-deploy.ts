/**
 * `npm run deploy:localstack`: `osls deploy --stage local` into LocalStack
 * (localstack/docker-compose.yml), then the bootstrap (default rules and service configs).
 *
 * What the stack needs from LocalStack, and what it gets:
 * - Lambda runs each function in its own Docker container: LocalStack needs the Docker socket
 *   (mounted by the compose file) — no Docker engine here, nothing can run: exit 3 (skipped).
 * - The functions are arm64: on an x86 Docker host LocalStack refuses to run them unless
 *   LAMBDA_IGNORE_ARCHITECTURE=1 (set by the compose file; the x86 image of nodejs24.x runs them).
 * - PRO_ONLY below: the HTTP API (API Gateway v2) is a LocalStack Pro service, so without
 *   LOCALSTACK_AUTH_TOKEN the stack cannot be created: exit 4 (needs Pro), nothing started. With a
 *   token the Pro image (localstack/localstack-pro) is used.
 * Exit codes: 0 deployed, 1 a step failed, 3 skipped (no Docker engine), 4 needs LocalStack Pro.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dockerError, FREE_TAG, run } from './localstack-common.ts';
import { ROOT } from './package.ts';

export const EXIT = { deployed: 0, failed: 1, skippedNoDocker: 3, needsPro: 4 } as const;
export const LOCALSTACK_URL = 'http://127.0.0.1:4566';

/** What the stack uses that the community edition lacks, and what happens to it. */
export const PRO_ONLY: readonly { feature: string; without: string }[] = [
  {
    feature: 'HTTP API (API Gateway v2: the api function’s httpApi event)',
    without: 'the stack fails to create — the reason a token is required',
  },
  { feature: 'X-Ray (provider.tracing.lambda)', without: 'no traces (the functions run)' },
  { feature: 'IAM enforcement', without: 'the roles are created but not enforced' },
];

export type DeployPlan =
  | { action: 'deploy'; image: string; tag: string }
  | { action: 'skip'; code: typeof EXIT.skippedNoDocker; reason: string }
  | { action: 'needs-pro'; code: typeof EXIT.needsPro; reason: string };

export function deployPlan(o: {
  dockerError: string | null;
  token: string | undefined;
  tag: string | undefined;
}): DeployPlan {
  if (o.dockerError !== null)
    return {
      action: 'skip',
      code: EXIT.skippedNoDocker,
      reason: `no Docker engine (${o.dockerError}): LocalStack runs each Lambda function in a Docker container through the Docker socket, so nothing was deployed`,
    };
  if (!o.token)
    return {
      action: 'needs-pro',
      code: EXIT.needsPro,
      reason:
        'the stack’s HTTP API (API Gateway v2) needs LocalStack Pro: export LOCALSTACK_AUTH_TOKEN=<yours> (the Pro image is used then); nothing was started',
    };
  return { action: 'deploy', image: 'localstack/localstack-pro', tag: o.tag || FREE_TAG };
}

async function main(): Promise<number> {
  const p = deployPlan({
    dockerError: dockerError(),
    token: process.env.LOCALSTACK_AUTH_TOKEN,
    tag: process.env.LOCALSTACK_TAG,
  });
  const say = (s: string) => process.stdout.write(`${s}\n`);
  say('deploy:localstack — features of the stack that need LocalStack Pro:');
  for (const f of PRO_ONLY) say(`  - ${f.feature}: without Pro, ${f.without}`);
  if (p.action !== 'deploy') {
    say(`deploy:localstack ${p.action === 'skip' ? 'skipped' : 'stopped'}: ${p.reason}`);
    return p.code;
  }
  const env = {
    ...process.env,
    LOCALSTACK_IMAGE: p.image,
    LOCALSTACK_TAG: p.tag,
    AWS_ENDPOINT_URL: LOCALSTACK_URL,
    AWS_REGION: process.env.AWS_REGION || 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    SC_TABLE: 'serverless-containers-local-state',
    SC_QUEUE_PREFIX: 'serverless-containers-local-',
  };
  const compose = ['compose', '-f', join(ROOT, 'localstack/docker-compose.yml')];
  say(
    `deploy:localstack: ${p.image}:${p.tag} on ${LOCALSTACK_URL} (Docker socket mounted, LAMBDA_IGNORE_ARCHITECTURE=1)`,
  );
  let code = await run('docker', [...compose, 'up', '-d', '--wait', 'localstack'], env);
  if (code !== 0) return EXIT.failed;
  const metricsUrl = process.env.SC_METRICS_URL || 'http://host.docker.internal:4242';
  code = await run(
    process.execPath,
    [
      'node_modules/osls/bin/serverless.js',
      'deploy',
      '--stage',
      'local',
      `--param=metricsUrl=${metricsUrl}`,
      '--param=deletionProtection=false',
    ],
    env,
  );
  if (code === 0) code = await run(process.execPath, ['local/bootstrap-cli.ts'], env);
  say(
    code === 0 ? 'deploy:localstack: deployed and bootstrapped' : `deploy:localstack: failed (exit ${code})`,
  );
  return code === 0 ? EXIT.deployed : EXIT.failed;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
