/**
 * One builder per scheduled operations function (sanity sweep, snapshoter,
 * ReBalancer), from a parsed environment (env.ts) and, optionally, the clients
 * a local runtime passes: the Lambda handlers, the local loop and the
 * benchmarks build them the same way. Each returns a `PeriodicFunction`: one
 * invocation runs the function's rounds under its lease until the deadline,
 * reading its service config before each (ServiceConfigReader).
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoDocumentClient, createSqsClient } from '../../adapters/aws.ts';
import { systemClock } from '../../adapters/clock.ts';
import { ScalerStore } from '../../adapters/dynamodb/scaler-store.ts';
import { ServiceConfigReader } from '../../adapters/dynamodb/service-config-reader.ts';
import { TableClient } from '../../adapters/dynamodb/table-client.ts';
import { createLogger, type Logger } from '../../adapters/logger.ts';
import { OpenTsdbPutSink } from '../../adapters/opentsdb-put.ts';
import { visibleMessages } from '../../adapters/sqs/order-queues.ts';
import type { ServiceConfigOf, ServiceName } from '../../core/contracts/service-config.ts';
import { defaultConfig, type ScalerConfig } from '../../core/contracts/service-config.ts';
import { ruleFindings } from '../../core/policy/sanity-findings.ts';
import type { Clock } from '../../core/ports/clock.ts';
import type { MetricsSource } from '../../core/ports/metrics-source.ts';
import type { PointSink } from '../../core/ports/time-series.ts';
import { Planner } from '../scaler/scaler-pass.ts';
import { sqsOrderSender } from '../scaler/sqs-order-sender.ts';
import { metricsSourceFromEnv, type OpsEnv, requireSetting } from './env.ts';
import { type PeriodicResult, runPeriodically } from './periodic.ts';
import { type RebalanceResult, rebalanceTick } from './rebalance.ts';
import { resendWith } from './resend.ts';
import { type SanityResult, sanitySweep } from './sanity-sweep.ts';
import { type SnapshotResult, snapshotTick } from './snapshot.ts';

/** The part of an invocation's context a scheduled function reads. */
export interface InvocationContext {
  awsRequestId: string;
  getRemainingTimeInMillis(): number;
}

/** What a runtime may pass instead of the clients the environment would make. */
export interface OpsClients {
  /** The state table's client (default: one on `dynamo`, or on the SDK's default client). */
  table?: TableClient;
  dynamo?: DynamoDBDocumentClient;
  sqs?: SQSClient;
  logger?: Logger;
  clock?: Clock;
  /** Usage source (default: the one SC_METRICS_BACKEND/SC_METRICS_URL name). */
  metrics?: MetricsSource;
  /** Where snapshots go (default: SC_OPENTSDB_URL's /api/put). */
  points?: PointSink;
}

export interface PeriodicFunction<R> {
  name: ServiceName;
  table: TableClient;
  logger: Logger;
  /** One scheduled invocation: rounds under the function's lease until shortly before the deadline. */
  invoke(context: InvocationContext, signal?: AbortSignal): Promise<PeriodicResult<R>>;
}

function tableFor(env: Readonly<OpsEnv>, opts: OpsClients): TableClient {
  if (opts.table !== undefined) return opts.table;
  return new TableClient(opts.dynamo ?? createDynamoDocumentClient(), env.SC_TABLE, {
    activityRetentionDays: env.SC_ACTIVITY_RETENTION_DAYS,
  });
}

type OpsService = 'sanity' | 'snapshoter' | 'rebalancer';

function periodic<S extends OpsService, R>(
  name: S,
  table: TableClient,
  opts: OpsClients,
  /** The period the service's config sets, ms. */
  period: (config: ServiceConfigOf<S>) => number,
  run: () => Promise<R>,
): PeriodicFunction<R> {
  const logger = opts.logger ?? createLogger(name);
  const clock = opts.clock ?? systemClock;
  const config = new ServiceConfigReader(table, name, { logger });
  return {
    name,
    table,
    logger,
    invoke: (context, signal) =>
      runPeriodically({
        name,
        owner: context.awsRequestId,
        table,
        clock,
        logger,
        remainingMs: () => context.getRemainingTimeInMillis(),
        schedule: async () => {
          const c = await config.read();
          return { active: c.ACTIVE, periodMs: period(c) };
        },
        run,
        ...(signal === undefined ? {} : { signal }),
      }),
  };
}

/** The sanity sweep (rule reachability, drift, dead agents, re-send), every POLLING_FREQUENCY seconds. */
export function buildSanity(env: Readonly<OpsEnv>, opts: OpsClients = {}): PeriodicFunction<SanityResult> {
  const table = tableFor(env, opts);
  const logger = opts.logger ?? createLogger('sanity');
  const sqs = opts.sqs ?? createSqsClient();
  // Kept while the process lives: unchanged findings are recorded once an hour, not every round.
  const recorded = new Map<string, number>();
  return periodic(
    'sanity',
    table,
    { ...opts, logger },
    (c) => c.POLLING_FREQUENCY * 1000,
    () =>
      sanitySweep({
        table,
        clock: opts.clock ?? systemClock,
        logger,
        checkRules: ruleFindings,
        resend: resendWith(sqsOrderSender(sqs), logger),
        recorded,
        deadLetters: (dlq) => visibleMessages(sqs, dlq),
      }),
  );
}

/** The whole-fleet snapshot (applications, users, service configs, hosts, containers), every POLLING_FREQUENCY seconds. */
export function buildSnapshoter(
  env: Readonly<OpsEnv>,
  opts: OpsClients = {},
): PeriodicFunction<SnapshotResult> {
  const table = tableFor(env, opts);
  const logger = opts.logger ?? createLogger('snapshoter');
  const deps = {
    table,
    metrics: opts.metrics ?? metricsSourceFromEnv(env),
    sink: opts.points ?? new OpenTsdbPutSink(requireSetting(env, 'SC_OPENTSDB_URL')),
    clock: opts.clock ?? systemClock,
    logger,
  };
  return periodic(
    'snapshoter',
    table,
    { ...opts, logger },
    (c) => c.POLLING_FREQUENCY * 1000,
    () => snapshotTick(deps),
  );
}

/**
 * The ReBalancer: nothing but a config read while ACTIVE is false (the default); otherwise a period
 * every WINDOW_TIMELAPSE seconds, its paired requests planned by the Scaler (config read before each).
 */
export function buildRebalancer(
  env: Readonly<OpsEnv>,
  opts: OpsClients = {},
): PeriodicFunction<RebalanceResult> {
  const table = tableFor(env, opts);
  const logger = opts.logger ?? createLogger('rebalancer');
  const store = new ScalerStore(table);
  const scaler = new ServiceConfigReader(table, 'scaler', { logger });
  let scalerConfig: ScalerConfig = defaultConfig('scaler');
  const deps = {
    table,
    metrics: opts.metrics ?? metricsSourceFromEnv(env),
    sink: new Planner({
      state: store,
      activity: store,
      orders: sqsOrderSender(opts.sqs ?? createSqsClient()),
      config: () => scalerConfig,
      log: logger,
    }),
    clock: opts.clock ?? systemClock,
    logger,
  };
  return periodic(
    'rebalancer',
    table,
    { ...opts, logger },
    (c) => c.WINDOW_TIMELAPSE * 1000,
    async () => {
      scalerConfig = await scaler.read();
      return rebalanceTick(deps);
    },
  );
}
