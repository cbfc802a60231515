/**
 * Scheduled (rate 1 minute): nothing but a config read while ACTIVE is false (the default);
 * otherwise a ReBalancer period every WINDOW_TIMELAPSE seconds
 * until the deadline; its paired requests go to the planner (the Scaler use case).
 */
import { createDynamoDocumentClient, createSqsClient } from '../../adapters/aws.ts';
import { functionScope } from '../../adapters/aws-calls.ts';
import { systemClock } from '../../adapters/clock.ts';
import { readServiceConfig } from '../../adapters/dynamodb/fleet.ts';
import { ScalerStore } from '../../adapters/dynamodb/scaler-store.ts';
import { TableClient } from '../../adapters/dynamodb/table-client.ts';
import { createLogger } from '../../adapters/logger.ts';
import { defaultConfig, type ScalerConfig } from '../../core/contracts/service-config.ts';
import { metricsSourceFromEnv, readOpsEnv } from '../ops/env.ts';
import { runPeriodically } from '../ops/periodic.ts';
import { type RebalanceDeps, rebalanceTick } from '../ops/rebalance.ts';
import { Planner } from '../scaler/scaler-pass.ts';
import { sqsOrderSender } from '../scaler/sqs-order-sender.ts';
import type { LambdaContextLike } from './lambda-context.ts';
import { lambdaHandler } from './middleware.ts';

const env = readOpsEnv();
const record = functionScope('rebalancer', env);
const logger = createLogger('rebalancer');
const table = new TableClient(createDynamoDocumentClient({ record }), env.SC_TABLE, {
  activityRetentionDays: env.SC_ACTIVITY_RETENTION_DAYS,
});
const store = new ScalerStore(table);
/** Hot-reloaded before every period; the planner reads it on each submit. */
let scalerConfig: ScalerConfig = defaultConfig('scaler');
const deps: RebalanceDeps = {
  table,
  metrics: metricsSourceFromEnv(env),
  sink: new Planner({
    state: store,
    activity: store,
    orders: sqsOrderSender(createSqsClient({ record })),
    config: () => scalerConfig,
    log: logger,
  }),
  clock: systemClock,
  logger,
};

export const handler = lambdaHandler('rebalancer', async (_event: unknown, context: LambdaContextLike) =>
  runPeriodically({
    name: 'rebalancer',
    owner: context.awsRequestId,
    table,
    clock: systemClock,
    logger,
    remainingMs: () => context.getRemainingTimeInMillis(),
    schedule: async () => {
      const c = await readServiceConfig(table, 'rebalancer');
      return { active: c.ACTIVE, periodMs: c.WINDOW_TIMELAPSE * 1000 };
    },
    run: async () => {
      scalerConfig = await readServiceConfig(table, 'scaler');
      return rebalanceTick(deps);
    },
  }).then((r) => ({ rounds: r.rounds, moves: r.results.reduce((s, x) => s + x.moves.length, 0) })),
);
