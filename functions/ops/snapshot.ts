/**
 * State snapshots (the original framework's Database Snapshoter): every
 * POLLING_FREQUENCY (default 60 s, one per scheduled invocation), write the
 * allocation, limits and usage of every structure as time series, so a run can
 * be plotted and audited afterwards. The control tick publishes the host and
 * container part (`hostPoints`) every tick from the states it already holds;
 * the snapshoter is what writes applications, users and service configs, and
 * the whole fleet when the Guardian is inactive or guards applications.
 *
 * - containers, applications, hosts: `structure.<res>.<field>` (max, min,
 *   current, usage; hosts: max and current = allocated) and
 *   `limit.<res>.<field>` (upper, lower), tagged structure=<name>
 * - users: `structure.<res>.<field>` tagged user=<name>
 * - service configs: `conf.<service>.<key>` (numbers, booleans as 0/1), tagged service=<name>
 */

import { type Fleet, readFleet, readServiceConfig, serviceConfig } from '../../adapters/dynamodb/fleet.ts';
import type { TableClient } from '../../adapters/dynamodb/table-client.ts';
import type { Logger } from '../../adapters/logger.ts';
import type { HostState } from '../../core/contracts/host.ts';
import type { ResourceLimits } from '../../core/contracts/limits.ts';
import type { ResourceMap, UsageMap } from '../../core/contracts/structure.ts';
import type { Resource } from '../../core/contracts/units.ts';
import { aggregateApplication, sumUsage } from '../../core/policy/aggregate.ts';
import type { Clock } from '../../core/ports/clock.ts';
import { type MetricsSource, usageWindow } from '../../core/ports/metrics-source.ts';
import type { Point, PointSink } from '../../core/ports/time-series.ts';

export interface SnapshotDeps {
  table: TableClient;
  metrics: MetricsSource;
  sink: PointSink;
  clock: Clock;
  logger: Logger;
}

export interface SnapshotResult {
  skipped: boolean;
  points: number;
  structures: number;
}

function resourcePoints(
  out: Point[],
  tags: Record<string, string>,
  at: number,
  resources: ResourceMap,
  usage: UsageMap,
  limits: Partial<Record<Resource, ResourceLimits>>,
): void {
  for (const [res, spec] of Object.entries(resources) as [Resource, NonNullable<ResourceMap[Resource]>][]) {
    out.push({ metric: `structure.${res}.max`, timestamp: at, value: spec.max, tags });
    out.push({ metric: `structure.${res}.min`, timestamp: at, value: spec.min, tags });
    out.push({ metric: `structure.${res}.current`, timestamp: at, value: spec.current, tags });
    const u = usage[res];
    if (u !== undefined && u !== null)
      out.push({ metric: `structure.${res}.usage`, timestamp: at, value: u, tags });
    const l = limits[res];
    if (l?.upper !== undefined && l.upper !== null)
      out.push({ metric: `limit.${res}.upper`, timestamp: at, value: l.upper, tags });
    if (l?.lower !== undefined && l.lower !== null)
      out.push({ metric: `limit.${res}.lower`, timestamp: at, value: l.lower, tags });
  }
}

/** One host as a snapshot sees it: its state and its containers' guard limits. */
export interface HostSnapshot {
  state: HostState;
  limits: (container: string) => Partial<Record<Resource, ResourceLimits>> | undefined;
}

/**
 * The host and container points of one snapshot at `at` (pure): hosts' max and
 * allocated (current), containers' max, min, current, usage and limits. Written by
 * the snapshoter and, every tick, by the control tick from the states it holds.
 */
export function hostPoints(
  hosts: Iterable<HostSnapshot>,
  usage: ReadonlyMap<string, UsageMap>,
  at: number,
): Point[] {
  const out: Point[] = [];
  for (const h of hosts) {
    const cap = h.state.capacity;
    const tags = { structure: h.state.name };
    out.push({ metric: 'structure.cpu.max', timestamp: at, value: cap.cpu.max, tags });
    out.push({ metric: 'structure.cpu.current', timestamp: at, value: cap.cpu.max - cap.cpu.free, tags });
    out.push({ metric: 'structure.mem.max', timestamp: at, value: cap.mem.max, tags });
    out.push({ metric: 'structure.mem.current', timestamp: at, value: cap.mem.max - cap.mem.free, tags });
    if (cap.net !== null) {
      out.push({ metric: 'structure.net.max', timestamp: at, value: cap.net.max, tags });
      out.push({ metric: 'structure.net.current', timestamp: at, value: cap.net.max - cap.net.free, tags });
    }
    for (const c of Object.values(h.state.containers)) {
      resourcePoints(
        out,
        { structure: c.name },
        at,
        c.resources,
        usage.get(c.name) ?? {},
        h.limits(c.name) ?? {},
      );
    }
  }
  return out;
}

/** The points of one snapshot of the fleet at `at` (pure). */
export function snapshotPoints(fleet: Fleet, usage: ReadonlyMap<string, UsageMap>, at: number): Point[] {
  const out = hostPoints(
    fleet.hosts.map((h) => ({ state: h.state, limits: (c: string) => h.guards.get(c)?.limits })),
    usage,
    at,
  );
  const containers = new Map(
    fleet.hosts.flatMap((h) => Object.values(h.state.containers).map((c) => [c.name, c] as const)),
  );
  const appUsage = new Map<string, { resources: ResourceMap; usage: UsageMap }>();
  for (const { app, guard } of fleet.applications) {
    const agg = aggregateApplication(app, containers, usage);
    appUsage.set(app.name, agg);
    resourcePoints(out, { structure: app.name }, at, agg.resources, agg.usage, guard?.limits ?? {});
  }
  for (const user of fleet.users) {
    const apps = user.applications.flatMap((n) => {
      const a = appUsage.get(n);
      return a === undefined ? [] : [a];
    });
    const resources: ResourceMap = {};
    for (const [res, spec] of Object.entries(user.resources) as [
      Resource,
      NonNullable<ResourceMap[Resource]>,
    ][]) {
      resources[res] = { ...spec, current: apps.reduce((s, a) => s + (a.resources[res]?.current ?? 0), 0) };
    }
    resourcePoints(out, { user: user.name }, at, resources, sumUsage(apps.map((a) => a.usage)), {});
  }
  for (const [name, doc] of fleet.services) {
    for (const [key, value] of Object.entries(doc.config)) {
      const v = typeof value === 'number' ? value : typeof value === 'boolean' ? Number(value) : null;
      if (v === null || !Number.isFinite(v)) continue;
      out.push({
        metric: `conf.${name}.${key.toLowerCase()}`,
        timestamp: at,
        value: v,
        tags: { service: name },
      });
    }
  }
  return out;
}

/** One snapshot: read the fleet and the containers' usage over the last period, write the points. */
export async function snapshotTick(deps: SnapshotDeps): Promise<SnapshotResult> {
  const config = await readServiceConfig(deps.table, 'snapshoter');
  if (!config.ACTIVE) return { skipped: true, points: 0, structures: 0 };
  const now = deps.clock.now();
  // Eventually consistent: a snapshot a fraction of a second old is as good a point as any. The
  // agent's items (heartbeat, reports: a third of a host partition) are not part of a snapshot.
  const fleet = await readFleet(deps.table, { rules: false, consistent: false, reports: false });
  const delayS = serviceConfig(fleet.services, 'guardian').WINDOW_DELAY;
  const names = fleet.hosts.flatMap((h) => Object.keys(h.state.containers));
  const resources = [
    ...new Set(
      fleet.hosts.flatMap((h) =>
        Object.values(h.state.containers).flatMap((c) => Object.keys(c.resources) as Resource[]),
      ),
    ),
  ];
  const { usage, rejected } = await deps.metrics.usage({
    structures: names,
    kind: 'container',
    resources,
    window: usageWindow(now, config.POLLING_FREQUENCY, delayS),
  });
  for (const r of rejected) deps.logger.warn(r, 'usage rejected');
  const points = snapshotPoints(fleet, usage, now);
  await deps.sink.put(points);
  const structures = fleet.hosts.length + names.length + fleet.applications.length + fleet.users.length;
  deps.logger.info({ points: points.length, structures, invalid: fleet.invalid.length }, 'snapshot written');
  for (const bad of fleet.invalid) deps.logger.warn(bad, 'state item does not match its schema');
  return { skipped: false, points: points.length, structures };
}
