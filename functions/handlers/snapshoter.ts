/**
 * Scheduled (rate 1 minute): the whole-fleet snapshot (applications, users, service configs, and the
 * hosts and containers the control tick also publishes every tick), one round per invocation at the
 * default POLLING_FREQUENCY (60 s); a shorter period loops until the deadline (functions/ops/periodic.ts).
 */
import { createDynamoDocumentClient } from '../../adapters/aws.ts';
import { functionScope } from '../../adapters/aws-calls.ts';
import { readOpsEnv } from '../ops/env.ts';
import { buildSnapshoter } from '../ops/wiring.ts';
import type { LambdaContextLike } from './lambda-context.ts';
import { lambdaHandler } from './middleware.ts';

const env = readOpsEnv(process.env);
// Every AWS call recorded per function when SC_RECORD_AWS_CALLS is set (IAM proven by test/integration/scripts/package.test.ts).
const record = functionScope('snapshoter', env);
const snapshoter = buildSnapshoter(env, { dynamo: createDynamoDocumentClient({ record }) });

export const handler = lambdaHandler(
  'snapshoter',
  async (_event: unknown, context: LambdaContextLike, { signal }) =>
    snapshoter.invoke(context, signal).then((r) => ({ rounds: r.rounds, leased: r.leased })),
);
