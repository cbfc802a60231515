/**
 * One ReBalancer period: read the fleet and the containers' usage over the
 * last window, plan the moves (core/policy/rebalancer) and hand the paired
 * requests to the planner through the RequestSink — the only way the
 * ReBalancer changes anything.
 */
import { recordActivity } from '../../adapters/dynamodb/activity.ts';
import { readFleet, readServiceConfig, serviceConfig } from '../../adapters/dynamodb/fleet.ts';
import type { TableClient } from '../../adapters/dynamodb/table-client.ts';
import type { Logger } from '../../adapters/logger.ts';
import { aggregateApplication } from '../../core/policy/aggregate.ts';
import {
  type ApplicationView,
  type ContainerView,
  type PlannedMove,
  planRebalance,
} from '../../core/policy/rebalancer/plan.ts';
import type { Clock } from '../../core/ports/clock.ts';
import { type MetricsSource, usageWindow } from '../../core/ports/metrics-source.ts';
import type { RequestSink, SubmitResult } from '../../core/ports/request-sink.ts';

export interface RebalanceDeps {
  table: TableClient;
  metrics: MetricsSource;
  sink: RequestSink;
  clock: Clock;
  logger: Logger;
}

export interface RebalanceResult {
  skipped: boolean;
  moves: PlannedMove[];
  submitted: SubmitResult | null;
}

export async function rebalanceTick(deps: RebalanceDeps): Promise<RebalanceResult> {
  const config = await readServiceConfig(deps.table, 'rebalancer');
  if (!config.ACTIVE) return { skipped: true, moves: [], submitted: null };
  const now = deps.clock.now();
  // Eventually consistent: the planner commits every move on the hosts' versions.
  const fleet = await readFleet(deps.table, { rules: false, consistent: false });
  const all = fleet.hosts.flatMap((h) =>
    Object.values(h.state.containers).map((c) => ({ c, degraded: h.state.degraded })),
  );
  const { usage, rejected: unusable } = await deps.metrics.usage({
    structures: all.map(({ c }) => c.name),
    kind: 'container',
    resources: config.RESOURCES_BALANCED,
    window: usageWindow(now, config.WINDOW_TIMELAPSE, config.WINDOW_DELAY),
  });
  for (const r of unusable) deps.logger.warn(r, 'usage rejected');
  const containers: ContainerView[] = all.map(({ c, degraded }) => ({
    name: c.name,
    host: c.host,
    application: c.application,
    guard: c.guard,
    resources: c.resources,
    usage: usage.get(c.name) ?? {},
    hostDegraded: degraded,
  }));
  const byName = new Map(all.map(({ c }) => [c.name, c]));
  const applications: ApplicationView[] = fleet.applications.map(({ app }) => {
    const agg = aggregateApplication(app, byName, usage);
    return {
      name: app.name,
      user: app.user,
      running: app.state === 'running',
      resources: agg.resources,
      usage: agg.usage,
    };
  });
  const plan = planRebalance({
    containers,
    applications,
    config,
    slices: serviceConfig(fleet.services, 'scaler').APP_SLICE,
    now,
  });
  if (plan.requests.length === 0) {
    deps.logger.debug(
      { containers: containers.length, applications: applications.length },
      'nothing to rebalance',
    );
    return { skipped: false, moves: [], submitted: null };
  }
  const submitted = await deps.sink.submit(plan.requests, now);
  deps.logger.info(
    { moves: plan.moves.map((m) => `${m.resource} ${m.from}→${m.to} ${m.amount}`), ...submitted },
    'rebalance submitted',
  );
  const rejected = new Map(submitted.rejected.map((r) => [r.id, r.reason]));
  for (const [i, m] of plan.moves.entries()) {
    const id = plan.requests[i]?.id ?? '';
    const refusal = rejected.get(id);
    await recordActivity(deps.table, {
      structure: m.to,
      at: now,
      kind: 'decision',
      resource: m.resource,
      text:
        refusal === undefined
          ? `rebalance: +${m.amount} from ${m.from}`
          : `rebalance: +${m.amount} from ${m.from} refused by the planner: ${refusal}`,
      reasons: m.reasons,
      data: { from: m.from, amount: m.amount, requestId: id, accepted: refusal === undefined },
    });
  }
  return { skipped: false, moves: plan.moves, submitted };
}
