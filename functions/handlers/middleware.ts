/**
 * What every Lambda handler wears, as middy middlewares, in one place: Powertools Tracer (the
 * invocation as an X-Ray segment), Powertools Metrics (CloudWatch EMF: flushed at the end of each
 * invocation, cold starts counted), the invocation's ids on every line of the deployable's pino
 * loggers, the invocation's deadline as an AbortSignal (aborted shortly before Lambda would kill
 * it, so work in flight stops and reports), and one classified line + metric per failed
 * invocation (bad input, conflict, throttled, timeout, dependency down, or a bug).
 * Handlers stay a few lines: `lambdaHandler(name, async (event, context, { metrics, signal }) => …)`.
 * The metric names are the ones serverless.yml's alarms and dashboard read (METRIC).
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import { createLogger, invocationContext, type Logger } from '../../adapters/logger.ts';
import { ConflictError, NotFoundError, StaleStateError, ValidationError } from '../../core/errors.ts';
import type { ChainOutcome } from '../guardian/chain.ts';
import type { TickReport } from '../guardian/tick.ts';
import type { Finding } from '../ops/sanity-sweep.ts';
import type { LambdaContextLike } from './lambda-context.ts';

export const NAMESPACE = 'ServerlessContainers';
export const METRIC = {
  ticks: 'Ticks',
  failedTicks: 'FailedTicks',
  tickAge: 'TickAgeMs',
  decisions: 'Decisions',
  requests: 'ScaleRequests',
  ordersSent: 'OrdersSent',
  ordersResent: 'OrdersResent',
  agentsDegraded: 'AgentsDegraded',
  handlerErrors: 'HandlerErrors',
  ordersDeadLettered: 'OrdersDeadLettered',
} as const;

export interface Observability {
  metrics: Metrics;
  tracer: Tracer;
}

/** What a handler receives beside the event and context: the observability clients and its deadline. */
export interface HandlerKit extends Observability {
  /** Aborted DEADLINE_RESERVE_MS before the invocation's time runs out (never, without a context deadline). */
  signal: AbortSignal;
}

type Context = LambdaContextLike & { functionName?: string; deadline?: AbortSignal };

/**
 * Time kept back from the Lambda timeout: the signal fires this long before, so work still in
 * flight stops and reports instead of being killed mid-write. A backstop: the control tick stops
 * starting ticks earlier (SC_TICK_RESERVE_MS, 1.5 s), and a tick's metrics reads end by its time left.
 */
export const DEADLINE_RESERVE_MS = 500;

/**
 * The invocation's deadline as an AbortSignal on `context.deadline`, aborted `reserveMs` before
 * `getRemainingTimeInMillis()` reaches 0 (at once when less is left); the timer ends with the invocation.
 */
export function deadline(reserveMs = DEADLINE_RESERVE_MS): MiddlewareObj<unknown, unknown, Error, Context> {
  let timer: NodeJS.Timeout | undefined;
  const clear = async () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  return {
    before: async (req) => {
      const ac = new AbortController();
      // A direct invoke or a test may pass a context without the method: no deadline then.
      const left =
        typeof req.context?.getRemainingTimeInMillis === 'function'
          ? req.context.getRemainingTimeInMillis()
          : Number.POSITIVE_INFINITY;
      if (Number.isFinite(left)) {
        const ms = left - reserveMs;
        if (ms <= 0) ac.abort(new DOMException('the invocation is at its deadline', 'TimeoutError'));
        else {
          timer = setTimeout(
            () => ac.abort(new DOMException('the invocation reached its deadline', 'TimeoutError')),
            ms,
          );
          timer.unref();
        }
      }
      if (req.context !== undefined && req.context !== null) req.context.deadline = ac.signal;
    },
    after: clear,
    onError: clear,
  };
}

/** Why an invocation failed, as an operator acts on it. */
export type ErrorClass = 'input' | 'conflict' | 'throttled' | 'timeout' | 'dependency' | 'bug';

const THROTTLED = new Set([
  'ThrottlingException',
  'Throttling',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'LimitExceededException',
]);
const CONFLICT = new Set(['ConditionalCheckFailedException', 'TransactionCanceledException']);
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH']);

/**
 * Classify a failure: bad input (nothing changed; the caller must fix it), a lost conditional
 * write, throttling by AWS, a deadline or timeout, a dependency down (AWS 5xx, network), or a bug
 * (anything else: an alarm should page). Reads only the error's name, code and AWS metadata.
 */
export function classifyError(err: unknown): ErrorClass {
  if (err instanceof ValidationError || err instanceof NotFoundError) return 'input';
  if (err instanceof ConflictError || err instanceof StaleStateError) return 'conflict';
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    name?: unknown;
    code?: unknown;
    $fault?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    cause?: unknown;
  };
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : null;
  if (CONFLICT.has(name)) return 'conflict';
  if (THROTTLED.has(name) || status === 429) return 'throttled';
  if (name === 'AbortError' || name === 'TimeoutError' || code === 'ETIMEDOUT') return 'timeout';
  if (NETWORK.has(code) || e.$fault === 'server' || (status !== null && status >= 500)) return 'dependency';
  if (e.cause !== undefined && e.cause !== err) {
    const inner = classifyError(e.cause);
    if (inner !== 'bug') return inner;
  }
  return 'bug';
}

/**
 * One line and one `HandlerErrors` metric (dimension ErrorClass) per failed invocation; the error
 * is rethrown, so Lambda's Errors and the event source's retries still see it.
 */
export function classifyErrors(
  metrics: Metrics,
  log: Logger,
): MiddlewareObj<unknown, unknown, Error, Context> {
  return {
    onError: async (req) => {
      const cls = classifyError(req.error);
      const one = metrics.singleMetric();
      one.addDimension('ErrorClass', cls);
      one.addMetric(METRIC.handlerErrors, MetricUnit.Count, 1);
      log.error({ err: req.error, errorClass: cls }, `invocation failed (${cls})`);
    },
  };
}

/** The invocation's ids on every log line, for the length of the invocation. */
export function logContext(): MiddlewareObj<unknown, unknown, Error, Context> {
  const clear = async () => {
    invocationContext.fields = {};
  };
  return {
    before: async (req) => {
      invocationContext.fields = {
        requestId: req.context.awsRequestId,
        ...(req.context.functionName === undefined ? {} : { function: req.context.functionName }),
      };
    },
    after: clear,
    onError: clear,
  };
}

/** A handler with tracing, EMF metrics and log context; `service` names it in both. */
export function lambdaHandler<E, R>(
  service: string,
  fn: (event: E, context: Context, kit: HandlerKit) => Promise<R>,
  opts: { log?: Logger; reserveMs?: number } = {},
) {
  const obs: Observability = {
    metrics: new Metrics({
      namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? NAMESPACE,
      serviceName: service,
    }),
    tracer: new Tracer({ serviceName: service }),
  };
  const log = opts.log ?? createLogger(service);
  const never = new AbortController().signal;
  // middy runs `before` in this order and `onError` in the reverse: the error is classified (and
  // its metric added) before logMetrics flushes, with the log context still set.
  return middy((event: E, context: Context) =>
    fn(event, context, { ...obs, signal: context?.deadline ?? never }),
  )
    .use(captureLambdaHandler(obs.tracer))
    .use(logMetrics(obs.metrics, { captureColdStartMetric: true }))
    .use(logContext())
    .use(deadline(opts.reserveMs))
    .use(classifyErrors(obs.metrics, log));
}

/** The control tick's figures for one invocation. */
export function tickMetrics(
  metrics: Metrics,
  o: { reports: readonly TickReport[]; failed: number; agesMs: readonly number[]; ordersSent: number },
): void {
  metrics.addMetric(METRIC.ticks, MetricUnit.Count, o.reports.length + o.failed);
  metrics.addMetric(METRIC.failedTicks, MetricUnit.Count, o.failed);
  for (const age of o.agesMs) metrics.addMetric(METRIC.tickAge, MetricUnit.Milliseconds, Math.max(0, age));
  metrics.addMetric(METRIC.decisions, MetricUnit.Count, sum(o.reports.map((r) => r.decisions)));
  metrics.addMetric(METRIC.requests, MetricUnit.Count, sum(o.reports.map((r) => r.requests.length)));
  metrics.addMetric(METRIC.ordersSent, MetricUnit.Count, o.ordersSent);
}

/** Chained clock: each message ran one tick (report), failed (report null) or was dropped. */
export function chainMetrics(
  metrics: Metrics,
  outcomes: readonly ChainOutcome[],
  invokedAtMs: number,
  ordersSent: number,
): void {
  const ran = outcomes.flatMap((o) => (o.ran ? [o] : []));
  const reports = ran.flatMap((o) => (o.report === null ? [] : [o.report]));
  tickMetrics(metrics, {
    reports,
    failed: ran.length - reports.length,
    // How late the tick started against its window (a slow chain or a throttled queue).
    agesMs: reports.map((r) => invokedAtMs - r.at),
    ordersSent,
  });
}

/**
 * The sanity sweep's figures: agents marked degraded, orders re-sent, and the orders waiting on the
 * hosts' dead-letter queues when the sweep counted them (a gauge: the same orders count each sweep
 * until someone drains the queue).
 */
export function sanityMetrics(
  metrics: Metrics,
  findings: readonly Finding[],
  deadLettered: number | null = null,
): void {
  metrics.addMetric(
    METRIC.agentsDegraded,
    MetricUnit.Count,
    findings.filter((f) => f.action === 'marked-degraded').length,
  );
  metrics.addMetric(
    METRIC.ordersResent,
    MetricUnit.Count,
    findings.filter((f) => f.action === 'resent').length,
  );
  if (deadLettered !== null) metrics.addMetric(METRIC.ordersDeadLettered, MetricUnit.Count, deadLettered);
}

/** One sanity invocation's figures from its rounds: every round's findings, the last dead-letter count. */
export function sanityRoundsMetrics(
  metrics: Metrics,
  rounds: readonly { findings: readonly Finding[]; deadLettered: number | null }[],
): void {
  const counted = rounds.flatMap((x) => (x.deadLettered === null ? [] : [x.deadLettered]));
  sanityMetrics(
    metrics,
    rounds.flatMap((x) => x.findings),
    counted.length === 0 ? null : (counted.at(-1) as number),
  );
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
