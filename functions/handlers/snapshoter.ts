/**
 * Scheduled (rate 1 minute): the whole-fleet snapshot (applications, users, service configs, and the
 * hosts and containers the control tick also publishes every tick), one round per invocation at the
 * default POLLING_FREQUENCY (60 s); a shorter period loops until the deadline (functions/ops/periodic.ts).
 */
import { createDynamoDocumentClient } from '../../adapters/aws.ts';
import { functionScope } from '../../adapters/aws-calls.ts';
import { systemClock } from '../../adapters/clock.ts';
import { readServiceConfig } from '../../adapters/dynamodb/fleet.ts';
import { TableClient } from '../../adapters/dynamodb/table-client.ts';
import { createLogger } from '../../adapters/logger.ts';
import { OpenTsdbPutSink } from '../../adapters/metrics/opentsdb-put.ts';
import { metricsSourceFromEnv, readOpsEnv, requireSetting } from '../ops/env.ts';
import { runPeriodically } from '../ops/periodic.ts';
import { type SnapshotDeps, snapshotTick } from '../ops/snapshot.ts';
import type { LambdaContextLike } from './lambda-context.ts';
import { lambdaHandler } from './middleware.ts';

const env = readOpsEnv();
const record = functionScope('snapshoter', env);
const logger = createLogger('snapshoter');
const table = new TableClient(createDynamoDocumentClient({ record }), env.SC_TABLE, {
  activityRetentionDays: env.SC_ACTIVITY_RETENTION_DAYS,
});
const deps: SnapshotDeps = {
  table,
  metrics: metricsSourceFromEnv(env),
  sink: new OpenTsdbPutSink(requireSetting(env, 'SC_OPENTSDB_URL')),
  clock: systemClock,
  logger,
};

export const handler = lambdaHandler('snapshoter', async (_event: unknown, context: LambdaContextLike) =>
  runPeriodically({
    name: 'snapshoter',
    owner: context.awsRequestId,
    table,
    clock: systemClock,
    logger,
    remainingMs: () => context.getRemainingTimeInMillis(),
    schedule: async () => {
      const c = await readServiceConfig(table, 'snapshoter');
      return { active: c.ACTIVE, periodMs: c.POLLING_FREQUENCY * 1000 };
    },
    run: () => snapshotTick(deps),
  }).then((r) => ({ rounds: r.rounds, leased: r.leased })),
);
