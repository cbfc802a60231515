/**
 * What the control-tick function needs, built once per process from one strict
 * environment schema: the state table, the metrics source, and the Scaler's
 * planner as the Guardian's request sink (orders go to the hosts' SQS queues).
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { createDynamoDocumentClient, createSqsClient } from '../../adapters/aws.ts';
import { functionScope } from '../../adapters/aws-calls.ts';
import { systemClock } from '../../adapters/clock.ts';
import { ActivityBuffer } from '../../adapters/dynamodb/activity.ts';
import { GuardianStore } from '../../adapters/dynamodb/guardian-store.ts';
import { ScalerStore } from '../../adapters/dynamodb/scaler-store.ts';
import { ServiceConfigReader } from '../../adapters/dynamodb/service-config-reader.ts';
import { TableClient } from '../../adapters/dynamodb/table-client.ts';
import { readEnvConfig } from '../../adapters/env.ts';
import { createLogger, type Logger } from '../../adapters/logger.ts';
import { MetricsQueryEnv, metricsSourceFromEnv } from '../../adapters/metrics/metrics-env.ts';
import { OpenTsdbPutSink } from '../../adapters/opentsdb-put.ts';
import { ActivityEnv, PlatformEnv } from '../../adapters/platform-env.ts';
import type { Clock } from '../../core/ports/clock.ts';
import type { MetricsSource } from '../../core/ports/metrics-source.ts';
import type { PointSink } from '../../core/ports/time-series.ts';
import type { OrderSender } from '../scaler/ports.ts';
import { ScalerSink } from '../scaler/scaler-sink.ts';
import { sqsOrderSender } from '../scaler/sqs-order-sender.ts';
import {
  type ChainOutcome,
  type ChainState,
  chainStateFor,
  parseChainMessage,
  runChainedTick,
  sqsTickScheduler,
  type TickScheduler,
} from './chain.ts';
import { withInvocationReads } from './invocation-reads.ts';
import { type RunTicksResult, runTicks } from './run-ticks.ts';
import { shardWatchdog } from './shard-watchdog.ts';

export const ControlTickEnv = PlatformEnv.extend({
  ...ActivityEnv.shape,
  SC_METRICS_BACKEND: z
    .enum(['opentsdb', 'prometheus'])
    .default('opentsdb')
    .describe(
      "Where usage is read: 'opentsdb' = BDWatchdog's TSD `/api/query`; 'prometheus' = a Prometheus query API (e.g. VictoriaMetrics fed by OpenTSDB puts).",
    ),
  SC_METRICS_URL: z.url().describe('Base URL of the metrics store (e.g. `http://opentsdb:4242`).'),
  SC_OPENTSDB_URL: z
    .url()
    .optional()
    .describe(
      "OpenTSDB-compatible base URL whose `/api/put` receives each tick's host and container snapshot (`structure.*`, `limit.*`: the dashboard's history); unset: no snapshot from the tick.",
    ),
  ...MetricsQueryEnv.shape,
  SC_CONTROL_CLOCK: z
    .enum(['invocation', 'queue'])
    .default('invocation')
    .describe(
      "What sets the tick cadence: 'invocation' = each scheduled invocation ticks until its deadline, waiting between ticks; 'queue' = one tick per invocation, the next one enqueued on SC_CLOCK_QUEUE_URL with a delay (the scheduled invocation is then a watchdog). docs/cost.md says why.",
    ),
  SC_CLOCK_QUEUE_URL: z
    .string()
    .min(1)
    .optional()
    .describe("The control tick's clock queue (SQS standard), required when SC_CONTROL_CLOCK is 'queue'."),
  SC_CLOCK_CHECKPOINT_S: z.coerce
    .number()
    .int()
    .min(10)
    .max(3600)
    .default(300)
    .describe(
      "Queue clock: each Guardian state kept only in memory (events, decisions) is written to its GUARD item within this long, s, a share at every tick (their live events reach a tick in another environment through the chain's carry, docs/shards.md).",
    ),
  SC_ACTIVITY_HOLD_S: z.coerce
    .number()
    .int()
    .min(0)
    .max(900)
    .default(60)
    .describe(
      "Hold the tick's activity lines (events, requests, orders) up to this long and write each host's as one packed item, s (0: at the end of every tick). Write units are per item, so holding costs less; the dashboard shows markers up to this late, and lines held when the execution environment is lost are lost.",
    ),
  SC_CLOCK_FULL_READ_S: z.coerce
    .number()
    .int()
    .min(10)
    .max(3600)
    .default(300)
    .describe(
      'Queue clock: re-read whole host partitions (guard states changed by operators) this often, s; other ticks read host states only.',
    ),
  SC_CLOCK_MAX_WAIT_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(1000)
    .default(500)
    .describe(
      "Queue clock: SQS delays are whole seconds; when the next tick's delay has a remainder up to this, ms, it is rounded down and the tick sleeps the remainder (billed), otherwise up (the tick runs up to a second late). 0 = never wait, 1000 = always on time.",
    ),
  SC_TICK_RESERVE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60000)
    .default(1500)
    .describe("Kept free before the invocation's deadline, ms."),
})
  .strict()
  .superRefine((e, ctx) => {
    if (e.SC_CONTROL_CLOCK === 'queue' && e.SC_CLOCK_QUEUE_URL === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['SC_CLOCK_QUEUE_URL'],
        message: "is required when SC_CONTROL_CLOCK is 'queue'",
      });
  });
export type ControlTickEnv = z.infer<typeof ControlTickEnv>;

/**
 * The control tick's environment, parsed once against its strict schema (frozen): by the handler
 * at module scope, by the local loop and the benchmarks from their own settings.
 */
export function readControlTickEnv(
  rawEnv: Record<string, string | undefined> = process.env,
): Readonly<ControlTickEnv> {
  return readEnvConfig(ControlTickEnv, rawEnv, 'control-tick environment');
}

export interface ControlTickWiring {
  env: ControlTickEnv;
  table: TableClient;
  /** The Guardian's state and lease over `table`. */
  state: GuardianStore;
  metrics: MetricsSource;
  sink: ScalerSink;
  logger: Logger;
  clock: Clock;
  /** Orders sent to host queues since the process started. */
  readonly sent: { orders: number };
  /** The clock queue's sender (SC_CONTROL_CLOCK=queue), else null. */
  scheduler: TickScheduler | null;
  /** Where each tick's host and container snapshot goes (SC_OPENTSDB_URL), else null. */
  snapshots: PointSink | null;
  /** The Guardian's and the planner's activity lines, held and packed per host (SC_ACTIVITY_HOLD_S). */
  activity: ActivityBuffer;
}

export function metricsSourceFor(env: ControlTickEnv, logger?: Logger): MetricsSource {
  return metricsSourceFromEnv(env, logger);
}

/** Counts what `inner` sent (for the cost figures). */
export function countingSender(inner: OrderSender, sent: { orders: number }): OrderSender {
  return {
    async send(queueUrl, orders) {
      const out = await inner.send(queueUrl, orders);
      sent.orders += out.sent;
      return out;
    },
  };
}

/**
 * The control tick from a parsed environment (readControlTickEnv), like the operations functions'
 * builders. Clients default to the AWS SDK's (endpoints only from AWS_ENDPOINT_URL_*); a local
 * runtime may pass its own.
 */
export function buildControlTick(
  env: Readonly<ControlTickEnv>,
  opts: { dynamo?: DynamoDBDocumentClient; sqs?: SQSClient; logger?: Logger; clock?: Clock } = {},
): ControlTickWiring {
  const logger = opts.logger ?? createLogger('control-tick');
  const record = functionScope('controlTick', env);
  const table = new TableClient(opts.dynamo ?? createDynamoDocumentClient({ record }), env.SC_TABLE, {
    activityRetentionDays: env.SC_ACTIVITY_RETENTION_DAYS,
  });
  const store = new ScalerStore(table);
  // Hot-reloaded before each submission, eventually consistent as the Guardian's config and rules.
  const scalerConfig = new ServiceConfigReader(table, 'scaler', { logger, consistent: false });
  const sent = { orders: 0 };
  const sqs = opts.sqs ?? createSqsClient({ record });
  const activity = new ActivityBuffer(table, env.SC_ACTIVITY_HOLD_S * 1000);
  const sink = new ScalerSink({
    state: store,
    activity,
    orders: countingSender(sqsOrderSender(sqs), sent),
    loadConfig: () => scalerConfig.read(),
    log: logger,
  });
  return {
    env,
    table,
    state: new GuardianStore(table),
    metrics: metricsSourceFor(env, logger),
    sink,
    logger,
    clock: opts.clock ?? systemClock,
    sent,
    activity,
    // Bounded: a slow store delays the tick by at most 2 s in all, and a failed put is only logged.
    snapshots:
      env.SC_OPENTSDB_URL === undefined
        ? null
        : new OpenTsdbPutSink(env.SC_OPENTSDB_URL, { timeoutMs: 2000, deadlineMs: 2000 }),
    scheduler:
      env.SC_CONTROL_CLOCK === 'queue' && env.SC_CLOCK_QUEUE_URL !== undefined
        ? sqsTickScheduler(sqs, env.SC_CLOCK_QUEUE_URL)
        : null,
  };
}

/** The Lambda context fields the control tick reads. */
export interface TickContext {
  awsRequestId: string;
  getRemainingTimeInMillis(): number;
}

/** One scheduled invocation: Guardian ticks (each planning its requests) until shortly before the deadline. */
export async function invokeControlTick(
  wiring: ControlTickWiring,
  context: TickContext,
  signal?: AbortSignal,
): Promise<RunTicksResult> {
  const { state, metrics, sink, logger, env, clock, snapshots, activity } = wiring;
  return runTicks(
    { state, metrics, sink, logger, clock, snapshots, activity, owner: context.awsRequestId },
    {
      deadlineMs: clock.now() + context.getRemainingTimeInMillis(),
      reserveMs: env.SC_TICK_RESERVE_MS,
      // Scheduled once a minute with a longer timeout: the next invocation waits and takes over.
      waitForLeaseMs: context.getRemainingTimeInMillis(),
      ...(signal === undefined ? {} : { signal }),
    },
  );
}

/** The SQS event the clock queue's event source mapping delivers. */
export interface ClockEvent {
  Records: { body: string; eventSource?: string }[];
}

export function isClockEvent(event: unknown): event is ClockEvent {
  const records = (event as { Records?: unknown } | null)?.Records;
  return Array.isArray(records) && records.every((r) => typeof (r as { body?: unknown })?.body === 'string');
}

/** Clock messages (chained clock): each runs one tick under the lease and enqueues the next. */
export async function handleClockEvent(
  wiring: ControlTickWiring,
  state: ChainState,
  proc: string,
  event: ClockEvent,
  /** The invocation's deadline (the handler's middleware): reaches each tick's metrics reads. */
  deadline?: { signal: AbortSignal; timeLeftMs: () => number },
): Promise<ChainOutcome[]> {
  const { metrics, sink, logger, clock, scheduler, snapshots, activity } = wiring;
  if (scheduler === null) throw new Error("clock message received but SC_CONTROL_CLOCK is not 'queue'");
  const out: ChainOutcome[] = [];
  // Config and rules read once for every tick of this invocation (one per shard message).
  const store = withInvocationReads(wiring.state);
  for (const r of event.Records) {
    // A malformed body can never become valid: log it and let the message go.
    let msg: ReturnType<typeof parseChainMessage>;
    try {
      msg = parseChainMessage(r.body);
    } catch (err) {
      logger.error({ err }, 'malformed clock message dropped');
      continue;
    }
    out.push(
      await runChainedTick(
        {
          state: store,
          metrics,
          sink,
          logger,
          clock,
          scheduler,
          snapshots,
          activity,
          proc,
          checkpointEveryMs: wiring.env.SC_CLOCK_CHECKPOINT_S * 1000,
          fullReadEveryMs: wiring.env.SC_CLOCK_FULL_READ_S * 1000,
          maxWaitMs: wiring.env.SC_CLOCK_MAX_WAIT_MS,
          ...(deadline === undefined ? {} : deadline),
          shards: store,
          carry: store,
        },
        chainStateFor(state, msg),
        msg,
      ),
    );
  }
  return out;
}

/** The scheduled invocation with the chained clock: size the shards, restart every chain that stopped. */
export function clockWatchdog(wiring: ControlTickWiring) {
  const { state, clock, scheduler, logger } = wiring;
  if (scheduler === null) throw new Error("the watchdog needs SC_CONTROL_CLOCK 'queue'");
  return shardWatchdog({ state, shards: state, clock, scheduler, logger });
}
