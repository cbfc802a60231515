/**
 * Scheduled (rate 1 minute): nothing but a config read while ACTIVE is false (the default);
 * otherwise a ReBalancer period every WINDOW_TIMELAPSE seconds
 * until the deadline; its paired requests go to the planner (the Scaler use case).
 */
import { createDynamoDocumentClient, createSqsClient } from '../../adapters/aws.ts';
import { functionScope } from '../../adapters/aws-calls.ts';
import { readOpsEnv } from '../ops/env.ts';
import { buildRebalancer } from '../ops/wiring.ts';
import type { LambdaContextLike } from './lambda-context.ts';
import { lambdaHandler } from './middleware.ts';

const env = readOpsEnv(process.env);
// Every AWS call recorded per function when SC_RECORD_AWS_CALLS is set (IAM proven by test/integration/scripts/package.test.ts).
const record = functionScope('rebalancer', env);
const rebalancer = buildRebalancer(env, {
  dynamo: createDynamoDocumentClient({ record }),
  sqs: createSqsClient({ record }),
});

export const handler = lambdaHandler(
  'rebalancer',
  async (_event: unknown, context: LambdaContextLike, { signal }) =>
    rebalancer
      .invoke(context, signal)
      .then((r) => ({ rounds: r.rounds, moves: r.results.reduce((s, x) => s + x.moves.length, 0) })),
);
