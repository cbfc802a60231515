/**
 * What every Lambda handler wears, as middy middlewares, in one place: Powertools Tracer (the
 * invocation as an X-Ray segment), Powertools Metrics (CloudWatch EMF: flushed at the end of each
 * invocation, cold starts counted) and the invocation's ids on every line of the deployable's pino
 * loggers. Handlers stay a few lines: `lambdaHandler(name, async (event, context, { metrics }) => …)`.
 * The metric names are the ones serverless.yml's alarms and dashboard read (METRIC).
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import { invocationContext } from '../../adapters/logger.ts';
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
  ordersDeadLettered: 'OrdersDeadLettered',
} as const;

export interface Observability {
  metrics: Metrics;
  tracer: Tracer;
}

type Context = LambdaContextLike & { functionName?: string };

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
  fn: (event: E, context: Context, obs: Observability) => Promise<R>,
) {
  const obs: Observability = {
    metrics: new Metrics({
      namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? NAMESPACE,
      serviceName: service,
    }),
    tracer: new Tracer({ serviceName: service }),
  };
  return middy((event: E, context: Context) => fn(event, context, obs))
    .use(captureLambdaHandler(obs.tracer))
    .use(logMetrics(obs.metrics, { captureColdStartMetric: true }))
    .use(logContext());
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
