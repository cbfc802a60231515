/** Scheduled (rate 1 minute): the sanity sweep, one round per invocation at the default POLLING_FREQUENCY (60 s). */
import { createDynamoDocumentClient, createSqsClient } from '../../adapters/aws.ts';
import { functionScope } from '../../adapters/aws-calls.ts';
import { readOpsEnv } from '../ops/env.ts';
import { buildSanity } from '../ops/wiring.ts';
import type { LambdaContextLike } from './lambda-context.ts';
import { lambdaHandler, sanityRoundsMetrics } from './middleware.ts';

const env = readOpsEnv(process.env);
// Every AWS call recorded per function when SC_RECORD_AWS_CALLS is set (IAM proven by test/integration/scripts/package.test.ts).
const record = functionScope('sanity', env);
const sanity = buildSanity(env, {
  dynamo: createDynamoDocumentClient({ record }),
  sqs: createSqsClient({ record }),
});

export const handler = lambdaHandler(
  'sanity',
  async (_event: unknown, context: LambdaContextLike, { metrics, signal }) => {
    const r = await sanity.invoke(context, signal);
    sanityRoundsMetrics(metrics, r.results);
    return { rounds: r.rounds, findings: r.results.reduce((s, x) => s + x.findings.length, 0) };
  },
);
