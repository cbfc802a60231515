/**
 * `npx osls invoke local -f <function>` — the Serverless Framework's own way to run a function
 * during development — against the emulators, with the stage's names: each function runs from its
 * ESM bundle (scripts/osls-invoke-local.cjs) and the command exits by itself when it is done.
 * README "Invoke a function locally" shows the same rule update.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createDynamoDocumentClient, createSqsClient } from '../../../adapters/aws.ts';
import { ROOT } from '../../../scripts/package.ts';
import { dynamoEndpoint, sqsEndpoint, victoriaPromUrl } from '../../support/env.ts';

const run = promisify(execFile);
const stage = `il${Date.now().toString(36)}`;
const names = {
  SC_TABLE: `serverless-containers-${stage}-state`,
  SC_QUEUE_PREFIX: `serverless-containers-${stage}-`,
};
const env = {
  ...process.env,
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint('dynalite'),
  AWS_ENDPOINT_URL_SQS: sqsEndpoint(),
  SLS_TELEMETRY_DISABLED: '1',
  LOG_LEVEL: 'warn',
  // Its own build folder: other tests bundle at the same time.
  SC_BUILD_DIR: `.esbuild-${stage}`,
};

/** `npx osls invoke local`; its printed result (the last JSON document of stdout). */
async function invokeLocal(
  fn: string,
  event: unknown,
  extraParams: string[] = [],
): Promise<Record<string, unknown>> {
  const { stdout } = await run(
    'npx',
    [
      'osls',
      'invoke',
      'local',
      '-f',
      fn,
      '--stage',
      stage,
      `--param=metricsUrl=${victoriaPromUrl()}`,
      '--param=metricsBackend=prometheus',
      '--data',
      JSON.stringify(event),
      // A CloudFormation Ref (the clock queue's URL) has no value outside AWS: a stage parameter gives it.
      ...extraParams.map((p) => `--param=${p}`),
    ],
    // Exits by itself: a hang fails here.
    { cwd: ROOT, env, timeout: 150_000 },
  );
  const start = stdout.lastIndexOf('\n{');
  return JSON.parse(stdout.slice(start + 1)) as Record<string, unknown>;
}
const http = (method: string, rawPath: string, body?: unknown) => ({
  version: '2.0',
  routeKey: '$default',
  rawPath,
  ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  requestContext: { http: { method } },
});

describe('npx osls invoke local', () => {
  beforeAll(async () => {
    // As an operator would: the stage's table, default rules and service configs.
    await run('npm', ['run', 'bootstrap'], { cwd: ROOT, env: { ...env, ...names }, timeout: 60_000 });
  }, 60_000);
  afterAll(async () => {
    const doc = createDynamoDocumentClient({ endpoint: dynamoEndpoint('dynalite'), region: 'us-east-1' });
    await doc.send(new DeleteTableCommand({ TableName: names.SC_TABLE })).catch(() => undefined);
    doc.destroy();
    rmSync(join(ROOT, env.SC_BUILD_DIR), { recursive: true, force: true });
  });

  it('updates a rule through the api function and reads it back', async () => {
    const put = await invokeLocal('api', http('PUT', '/rules/CpuRescaleUp/amount', { value: 80 }));
    expect(put).toMatchObject({ statusCode: 200 });
    const get = await invokeLocal('api', http('GET', '/rules/CpuRescaleUp'));
    expect(get.statusCode).toBe(200);
    expect(JSON.parse(String(get.body))).toMatchObject({ name: 'CpuRescaleUp', amount: 80 });
  }, 320_000);

  it('runs the control tick’s watchdog, which starts the clock chain, and exits', async () => {
    const sqs = createSqsClient({ endpoint: sqsEndpoint(), region: 'us-east-1' });
    const url = (
      await sqs.send(new CreateQueueCommand({ QueueName: `${names.SC_QUEUE_PREFIX}control-clock` }))
    ).QueueUrl as string;
    sqs.destroy();
    expect(await invokeLocal('controlTick', {}, [`clockQueueUrl=${url}`])).toMatchObject({
      alive: false,
      started: expect.anything(),
    });
  }, 160_000);

  it.each(['sanity', 'snapshoter', 'rebalancer'])(
    'runs %s on its schedule event and exits',
    async (fn) => {
      expect(await invokeLocal(fn, {})).toMatchObject({ rounds: expect.any(Number) });
    },
    160_000,
  );
});
