/** Scheduled (rate 1 minute): the sanity sweep, one round per invocation at the default POLLING_FREQUENCY (60 s). */
import { createDynamoDocumentClient, createSqsClient } from '../../adapters/aws.ts';
import { functionScope } from '../../adapters/aws-calls.ts';
import { systemClock } from '../../adapters/clock.ts';
import { readServiceConfig } from '../../adapters/dynamodb/fleet.ts';
import { TableClient } from '../../adapters/dynamodb/table-client.ts';
import { createLogger } from '../../adapters/logger.ts';
import { ruleFindings } from '../../core/policy/sanity-findings.ts';
import { readOpsEnv } from '../ops/env.ts';
import { runPeriodically } from '../ops/periodic.ts';
import { resendWith } from '../ops/resend.ts';
import { type SanityDeps, sanitySweep } from '../ops/sanity-sweep.ts';
import { sqsOrderSender } from '../scaler/sqs-order-sender.ts';
import type { LambdaContextLike } from './lambda-context.ts';
import { lambdaHandler, sanityMetrics } from './middleware.ts';

const env = readOpsEnv();
const record = functionScope('sanity', env);
const logger = createLogger('sanity');
const table = new TableClient(createDynamoDocumentClient({ record }), env.SC_TABLE, {
  activityRetentionDays: env.SC_ACTIVITY_RETENTION_DAYS,
});
const deps: SanityDeps = {
  table,
  clock: systemClock,
  logger,
  checkRules: ruleFindings,
  resend: resendWith(sqsOrderSender(createSqsClient({ record })), logger),
};

export const handler = lambdaHandler(
  'sanity',
  async (_event: unknown, context: LambdaContextLike, { metrics }) => {
    const r = await runPeriodically({
      name: 'sanity',
      owner: context.awsRequestId,
      table,
      clock: systemClock,
      logger,
      remainingMs: () => context.getRemainingTimeInMillis(),
      schedule: async () => {
        const c = await readServiceConfig(table, 'sanity');
        return { active: c.ACTIVE, periodMs: c.POLLING_FREQUENCY * 1000 };
      },
      run: () => sanitySweep(deps),
    });
    sanityMetrics(
      metrics,
      r.results.flatMap((x) => x.findings),
    );
    return { rounds: r.rounds, findings: r.results.reduce((s, x) => s + x.findings.length, 0) };
  },
);
