/**
 * A local stand-in for EventBridge `rate(...)` rules and the Lambda runtime:
 * it invokes a handler `(event, context) => Promise` on a fixed rate with a
 * Lambda-like context, so the scheduled functions run unchanged on one machine.
 *
 * - Fire times are a fixed grid (start, start + period, …). If an invocation is
 *   still running when the next slot comes, that slot is skipped (counted and
 *   logged) unless `allowOverlap` is set — EventBridge would start a second
 *   concurrent Lambda; the functions' lease covers that case in the cloud.
 * - `context.getRemainingTimeInMillis()` counts down from `timeoutMs`. The
 *   runtime cannot kill a local handler, so an invocation that runs past its
 *   timeout is logged as timed out (the handler is expected to watch its
 *   remaining time, as on AWS).
 * - Aborting `signal` stops scheduling and `done` resolves once every running
 *   invocation has settled.
 *
 * Usage:
 *   const ac = new AbortController();
 *   const s = startSchedule({ name: 'guardian', rate: 'rate(1 minute)', timeoutMs: 60_000,
 *                             handler, signal: ac.signal, logger });
 *   …; ac.abort(); const stats = await s.done;
 */
import { randomUUID } from 'node:crypto';
import { systemClock } from '../adapters/clock.ts';
import type { Logger } from '../adapters/logger.ts';
import { silentLogger } from '../adapters/logger.ts';
import { ValidationError } from '../core/errors.ts';
import type { Clock } from '../core/ports/clock.ts';

/** The subset of the Lambda context our handlers use. */
export interface LocalLambdaContext {
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  awsRequestId: string;
  logGroupName: string;
  logStreamName: string;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
}

/** The event EventBridge sends for a scheduled rule. */
export interface ScheduledEvent {
  version: '0';
  id: string;
  'detail-type': 'Scheduled Event';
  source: 'aws.events';
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, never>;
}

export type ScheduledHandler<E = ScheduledEvent> = (
  event: E,
  context: LocalLambdaContext,
) => Promise<unknown>;

export interface ScheduleOptions<E = ScheduledEvent> {
  /** Function name (context.functionName, log field). */
  name: string;
  /** EventBridge rate expression: `rate(10 seconds)`, `rate(1 minute)`, `rate(5 minutes)`, … */
  rate: string;
  handler: ScheduledHandler<E>;
  /** The function's configured timeout. */
  timeoutMs: number;
  signal: AbortSignal;
  /** Builds each invocation's event; default: an EventBridge scheduled event. */
  event?: (at: number) => E;
  /** Start invocations even while the previous one is still running (default false). */
  allowOverlap?: boolean;
  /** Invoke at start instead of one period later (default true: like a rule that just fired). */
  fireImmediately?: boolean;
  memoryMiB?: number;
  clock?: Clock;
  logger?: Logger;
}

export interface ScheduleStats {
  invocations: number;
  failures: number;
  timeouts: number;
  /** Slots skipped because the previous invocation was still running. */
  skipped: number;
  durationsMs: number[];
}

export interface RunningSchedule {
  readonly stats: Readonly<ScheduleStats>;
  /** Resolves after abort, once every running invocation has settled. */
  readonly done: Promise<ScheduleStats>;
}

const RATE = /^rate\((\d+) (second|seconds|minute|minutes|hour|hours|day|days)\)$/;
const UNIT_MS: Record<string, number> = { second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/**
 * Period in ms of an EventBridge rate expression. Like EventBridge, the unit is
 * singular for 1 and plural otherwise; unlike EventBridge, seconds are allowed
 * (the local loop ticks faster than once a minute).
 */
export function parseRate(expr: string): number {
  const m = RATE.exec(expr.trim());
  const value = m === null ? Number.NaN : Number(m[1]);
  const unit = m?.[2] ?? '';
  const singular = unit.endsWith('s') ? unit.slice(0, -1) : unit;
  if (m === null || value < 1 || (value === 1) !== (singular === unit)) {
    throw new ValidationError('schedule', [
      { path: 'rate', message: `must be like "rate(10 seconds)" or "rate(1 minute)", got "${expr}"` },
    ]);
  }
  return value * (UNIT_MS[singular] as number);
}

export function scheduledEvent(name: string, at: number): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: 'us-east-1',
    resources: [`arn:aws:events:us-east-1:000000000000:rule/${name}-schedule`],
    detail: {},
  };
}

export function lambdaContext(
  name: string,
  opts: { deadline: number; clock: Clock; memoryMiB: number },
): LocalLambdaContext {
  const requestId = randomUUID();
  return {
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
    memoryLimitInMB: String(opts.memoryMiB),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: `local/${requestId}`,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, opts.deadline - opts.clock.now()),
  };
}

export function startSchedule<E = ScheduledEvent>(opts: ScheduleOptions<E>): RunningSchedule {
  const periodMs = parseRate(opts.rate);
  if (!Number.isInteger(opts.timeoutMs) || opts.timeoutMs < 1) {
    throw new ValidationError('schedule', [{ path: 'timeoutMs', message: 'must be a positive integer' }]);
  }
  const clock = opts.clock ?? systemClock;
  const log = (opts.logger ?? silentLogger).child({ fn: opts.name });
  const makeEvent = opts.event ?? ((at: number) => scheduledEvent(opts.name, at) as E);
  const stats: ScheduleStats = { invocations: 0, failures: 0, timeouts: 0, skipped: 0, durationsMs: [] };
  const running = new Set<Promise<void>>();

  const invoke = async (at: number): Promise<void> => {
    const context = lambdaContext(opts.name, {
      deadline: at + opts.timeoutMs,
      clock,
      memoryMiB: opts.memoryMiB ?? 256,
    });
    stats.invocations += 1;
    let failed = false;
    try {
      await opts.handler(makeEvent(at), context);
    } catch (err) {
      failed = true;
      stats.failures += 1;
      log.error({ err, requestId: context.awsRequestId }, 'invocation failed');
    }
    const durationMs = clock.now() - at;
    stats.durationsMs.push(durationMs);
    if (durationMs > opts.timeoutMs) {
      stats.timeouts += 1;
      log.warn({ requestId: context.awsRequestId, durationMs, timeoutMs: opts.timeoutMs }, 'timed out');
    } else if (!failed) {
      log.debug({ requestId: context.awsRequestId, durationMs }, 'invocation done');
    }
  };

  const loop = async (): Promise<ScheduleStats> => {
    const start = clock.now();
    let slot = opts.fireImmediately === false ? 1 : 0;
    while (!opts.signal.aborted) {
      const due = start + slot * periodMs;
      const wait = due - clock.now();
      if (wait > 0) await clock.sleep(wait, opts.signal);
      if (opts.signal.aborted) break;
      if (running.size > 0 && opts.allowOverlap !== true) {
        stats.skipped += 1;
        log.warn({ slot }, 'previous invocation still running: slot skipped');
      } else {
        const p = invoke(clock.now()).finally(() => running.delete(p));
        running.add(p);
      }
      // Next slot on the grid that is still in the future (slots missed while busy are skipped once).
      const nextSlot = Math.floor((clock.now() - start) / periodMs) + 1;
      stats.skipped += Math.max(0, nextSlot - slot - 1);
      slot = Math.max(slot + 1, nextSlot);
    }
    await Promise.all([...running]);
    log.info(
      { invocations: stats.invocations, failures: stats.failures, skipped: stats.skipped },
      'schedule stopped',
    );
    return stats;
  };

  return { stats, done: loop() };
}

/** The event an SQS event source mapping delivers (the fields our handlers read). */
export interface QueueEvent {
  Records: { messageId: string; receiptHandle: string; body: string; eventSource: 'aws:sqs' }[];
}

/** The SQS calls the stand-in makes (an SDK SQSClient satisfies it through `sqsQueuePort`). */
export interface TriggerQueue {
  receive(
    waitS: number,
    signal: AbortSignal,
  ): Promise<{ messageId: string; receiptHandle: string; body: string }[]>;
  delete(receiptHandle: string): Promise<void>;
}

export interface QueueTriggerOptions {
  name: string;
  queue: TriggerQueue;
  handler: ScheduledHandler<QueueEvent>;
  timeoutMs: number;
  signal: AbortSignal;
  /** Long-poll wait of each receive, s (default 1: stops promptly on abort). */
  waitS?: number;
  memoryMiB?: number;
  clock?: Clock;
  logger?: Logger;
}

/**
 * A local stand-in for an SQS event source mapping with batch size 1: it
 * long-polls the queue, invokes the handler with each message as an SQS event
 * (one invocation at a time, like maximum concurrency 1), and deletes the
 * message when the handler returns; a failed invocation leaves it to come back
 * after its visibility timeout, as Lambda does.
 */
export function startQueueTrigger(opts: QueueTriggerOptions): RunningSchedule {
  const clock = opts.clock ?? systemClock;
  const log = (opts.logger ?? silentLogger).child({ fn: opts.name, trigger: 'sqs' });
  const stats: ScheduleStats = { invocations: 0, failures: 0, timeouts: 0, skipped: 0, durationsMs: [] };
  const loop = async (): Promise<ScheduleStats> => {
    while (!opts.signal.aborted) {
      let messages: Awaited<ReturnType<TriggerQueue['receive']>>;
      try {
        messages = await opts.queue.receive(opts.waitS ?? 1, opts.signal);
      } catch (err) {
        if (opts.signal.aborted) break;
        log.warn({ err }, 'receive failed; retrying');
        await clock.sleep(500, opts.signal).catch(() => undefined);
        continue;
      }
      for (const m of messages) {
        const started = clock.now();
        const context = lambdaContext(opts.name, {
          deadline: started + opts.timeoutMs,
          clock,
          memoryMiB: opts.memoryMiB ?? 256,
        });
        stats.invocations += 1;
        try {
          await opts.handler({ Records: [{ ...m, eventSource: 'aws:sqs' }] }, context);
          await opts.queue.delete(m.receiptHandle);
        } catch (err) {
          stats.failures += 1;
          log.error({ err, requestId: context.awsRequestId }, 'invocation failed; the message comes back');
        }
        const durationMs = clock.now() - started;
        stats.durationsMs.push(durationMs);
        if (durationMs > opts.timeoutMs) stats.timeouts += 1;
      }
    }
    log.info({ invocations: stats.invocations, failures: stats.failures }, 'queue trigger stopped');
    return stats;
  };
  return { stats, done: loop() };
}
