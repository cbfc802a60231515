/**
 * One Guardian tick: hot-reload config and rules, read the hosts (and
 * applications), read usage in batched queries, decide per guarded structure,
 * persist guard states that must be, record activity, hand requests to the sink.
 *
 * Lean between ticks of one leased invocation (the lease makes it the only
 * Guardian): each structure's guard state (limits, live events, last decision)
 * is kept in `memory.cache`, with the usage of its last window (memory only: the
 * next tick's previous window, which tells a load's onset from a level). The first tick (and every `fullReadEveryTicks`)
 * lists the hosts and reads whole host partitions, strongly consistent; the
 * others read only the hosts' STATE items (BatchGetItem, eventually consistent:
 * the planner re-reads and commits conditionally, so deciding on a host state
 * one tick old is safe) and the GUARD items of containers not seen before.
 * A GUARD item is written when its limits change, when a request is emitted
 * (events consumed; before the request is submitted) and at `checkpoint`
 * (the invocation's end); a stored version other than the one this invocation
 * wrote means someone else (an operator) changed it: the stored state wins.
 */

import { type ActivityBuffer, type ActivityLine, writeActivity } from '../../adapters/dynamodb/activity.ts';
import type { TableClient } from '../../adapters/dynamodb/table-client.ts';
import type { Logger } from '../../adapters/logger.ts';
import type { Activity } from '../../core/contracts/activity.ts';
import type { GuardState } from '../../core/contracts/guard-state.ts';
import type { HostState } from '../../core/contracts/host.ts';
import { requestAction, type ScaleRequest } from '../../core/contracts/request.ts';
import { defaultConfig, type GuardianConfig } from '../../core/contracts/service-config.ts';
import type { Container } from '../../core/contracts/structure.ts';
import { GSI1_KINDS, hostOfPartition, keys } from '../../core/contracts/table-layout.ts';
import type { Resource } from '../../core/contracts/units.ts';
import { StaleStateError } from '../../core/errors.ts';
import { mapLimit } from '../../core/map-limit.ts';
import {
  compileRules,
  type DecideOutput,
  decide,
  type StructureView,
} from '../../core/policy/guardian/decide.ts';
import { eventName } from '../../core/policy/guardian/events.ts';
import type { MetricsSource } from '../../core/ports/metrics-source.ts';
import { usageWindow } from '../../core/ports/metrics-source.ts';
import type { RequestSink } from '../../core/ports/request-sink.ts';
import type { PointSink } from '../../core/ports/time-series.ts';
import { hostPoints } from '../ops/snapshot.ts';
import {
  type AppRead,
  type HostRead,
  loadConfig,
  loadRules,
  type Problem,
  parseGuard,
  parseHostState,
  readApplication,
  readHost,
  writeGuard,
} from './state.ts';

export interface TickDeps {
  table: TableClient;
  metrics: MetricsSource;
  sink: RequestSink;
  logger: Logger;
  /** Host/application partitions read at once. */
  readConcurrency?: number;
  /** Writes in flight. */
  writeConcurrency?: number;
  /** Full read (host listing + whole partitions) every N ticks; default: once a minute of ticks. */
  fullReadEveryTicks?: number;
  /**
   * Where the tick publishes its host and container snapshot (the snapshoter's `hostPoints` from the
   * states it read, the usage and the limits it decided): one put per tick, a failure only logged.
   */
  snapshots?: PointSink | null;
  /**
   * Holds the tick's activity lines and packs them per host (the planner's lines too, when it is the
   * sink's ActivityLog): flushed at the end of each tick for the hosts whose lines are due, and
   * entirely at the checkpoint. Without it, each tick writes its lines at once, packed per host.
   */
  activity?: ActivityBuffer | null;
}

/** One structure's guard state as this invocation knows it. */
export interface CachedGuard {
  key: { pk: string; sk: string };
  /** Latest decided state (its `version` is `stored ?? 0`); null: nothing stored or decided yet. */
  state: GuardState | null;
  /** Version of the stored item as last read or written by this invocation; null: no item. */
  stored: number | null;
  /** Decided state differs from the stored one (events, last decision): written at the checkpoint. */
  dirty: boolean;
  /**
   * The usage this invocation decided on at its last tick (`at`) for this structure: the next tick's
   * previous window (decide's previousUsage: an onset or a level). Memory only, never stored (it
   * changes every tick; storing it would make every tick a GUARD write).
   */
  lastUsage?: { at: number; usage: Partial<Record<Resource, number | null>> };
}

/** Lean state of one leased invocation. */
export interface TickCache {
  /** Ticks since the last full read (host listing + whole partitions). */
  sinceFullRead: number;
  hostNames: string[];
  /** By `${pk}|${sk}` of the GUARD item. */
  guards: Map<string, CachedGuard>;
}

/** Carried between ticks of one invocation: the last good config and the lean cache. */
export interface TickMemory {
  config: GuardianConfig;
  cache?: TickCache;
}

export interface TickReport {
  at: number;
  active: boolean;
  config: GuardianConfig;
  structures: number;
  decisions: number;
  events: number;
  requests: ScaleRequest[];
  submitted: number;
  dryRun: number;
  skips: { no_data: number; bad_usage: number; bad_state: number };
  rejectedMetrics: number;
  problems: number;
  guardWrites: number;
  staleWrites: number;
  /** Whole host partitions were read (first tick of an invocation, or periodic). */
  fullRead: boolean;
  /** GUARD items changed by someone else since this invocation wrote them: the stored state was adopted. */
  adopted: number;
  /** Structures whose decided state is kept in memory only, awaiting a checkpoint. */
  unpersisted: number;
  /** Activity records appended (events that start a run, requests, dry-run decisions). */
  activityRecords: number;
  tsdbQueries: number;
  ddbReads: number;
  ddbWrites: number;
  ms: number;
  /** Where the time went: state reads, metrics, decisions, writes + sink. */
  phasesMs: { state: number; metrics: number; decide: number; write: number };
}

interface Target {
  view: StructureView;
  entry: CachedGuard;
  /** container names whose usage makes this structure's (one for a container). */
  members: readonly string[];
}

function containerView(c: Container): StructureView {
  const resources: StructureView['resources'] = {};
  for (const [res, spec] of Object.entries(c.resources)) {
    if (spec !== undefined)
      resources[res as Resource] = { max: spec.max, min: spec.min, current: spec.current, guard: spec.guard };
  }
  return { name: c.name, type: 'container', resources };
}

/**
 * Write one structure's decided state, conditional on the version this
 * invocation knows. On a conflict someone else changed it: the stored state is
 * read back and adopted (decided again next tick).
 */
async function persistGuard(deps: TickDeps, entry: CachedGuard): Promise<'written' | 'stale'> {
  const state = entry.state;
  if (state === null || !entry.dirty) return 'written';
  const version = (entry.stored ?? 0) + 1;
  try {
    await writeGuard(deps.table, entry.key, { ...state, version }, entry.stored);
    entry.stored = version;
    entry.state = { ...state, version };
    entry.dirty = false;
    return 'written';
  } catch (err) {
    if (!(err instanceof StaleStateError)) throw err;
    deps.logger.warn(
      { structure: state.structure },
      'guard state changed concurrently; decided again next tick',
    );
    const item = await deps.table.get(entry.key);
    const read = item === null ? null : parseGuard(item, state.structure);
    entry.state = read !== null && 'state' in read ? read.state : null;
    entry.stored = read !== null && 'state' in read ? read.state.version : null;
    entry.dirty = false;
    return 'stale';
  }
}

/** Write the held activity lines that are due (all with `all`); a failure is logged, the lines kept. */
async function flushActivity(deps: TickDeps, now: number, all: boolean): Promise<void> {
  if (deps.activity == null) return;
  try {
    await deps.activity.flush(now, { all });
  } catch (err) {
    deps.logger.warn({ err, held: deps.activity.size }, 'activity not written; kept for the next flush');
  }
}

/**
 * Persist every structure whose decided state is only in memory (events, last
 * decision), so the next invocation resumes from it, and write every activity
 * line held. Called before the lease is released.
 */
export async function checkpoint(
  deps: TickDeps,
  memory: TickMemory,
): Promise<{ written: number; stale: number }> {
  await flushActivity(deps, Number.POSITIVE_INFINITY, true);
  const dirty = [...(memory.cache?.guards.values() ?? [])].filter((e) => e.dirty);
  let written = 0;
  let stale = 0;
  await mapLimit(dirty, deps.writeConcurrency ?? 16, async (e) => {
    if ((await persistGuard(deps, e)) === 'written') written += 1;
    else stale += 1;
  });
  return { written, stale };
}

/**
 * One tick. Pass the same `memory` to every tick of an invocation and call
 * `checkpoint` at its end; without `memory` the tick is an invocation of its
 * own (full read, everything decided is persisted before it returns).
 */
export async function runTick(deps: TickDeps, now: number, memoryArg?: TickMemory): Promise<TickReport> {
  const oneShot = memoryArg === undefined;
  const memory: TickMemory = memoryArg ?? { config: defaultConfig('guardian') };
  const writeLater: CachedGuard[] = [];
  const { table, logger } = deps;
  const started = performance.now();
  const reads0 = table.counters.reads;
  const writes0 = table.counters.writes;
  const readConc = deps.readConcurrency ?? 16;
  const writeConc = deps.writeConcurrency ?? 16;
  const problems: Problem[] = [];

  const loaded = await loadConfig(table, memory.config);
  problems.push(...loaded.problems);
  const config = loaded.config;
  memory.config = config;
  const report: TickReport = {
    at: now,
    active: config.ACTIVE,
    config,
    structures: 0,
    decisions: 0,
    events: 0,
    requests: [],
    submitted: 0,
    dryRun: 0,
    skips: { no_data: 0, bad_usage: 0, bad_state: 0 },
    rejectedMetrics: 0,
    problems: 0,
    guardWrites: 0,
    staleWrites: 0,
    fullRead: false,
    adopted: 0,
    unpersisted: 0,
    activityRecords: 0,
    tsdbQueries: 0,
    ddbReads: 0,
    ddbWrites: 0,
    ms: 0,
    phasesMs: { state: 0, metrics: 0, decide: 0, write: 0 },
  };
  let mark = performance.now();
  const phase = (name: keyof TickReport['phasesMs']) => {
    const t = performance.now();
    report.phasesMs[name] += Math.round(t - mark);
    mark = t;
  };
  const finish = () => {
    report.problems = problems.length;
    for (const p of problems)
      logger.error({ problem: p }, `refused ${p.what}: ${p.field ? `${p.field}: ` : ''}${p.message}`);
    report.ddbReads = table.counters.reads - reads0;
    report.ddbWrites = table.counters.writes - writes0;
    report.ms = Math.round(performance.now() - started);
    const { config: _c, requests, ...figures } = report;
    logger.info({ tick: { ...figures, requests: requests.length } }, 'guardian tick');
    return report;
  };
  if (!config.ACTIVE) return finish();

  const ruleLoad = await loadRules(table, config);
  problems.push(...ruleLoad.problems);
  const rules = compileRules(ruleLoad.rules);

  // Read hosts (always: container currents live there) and, at application level, applications.
  const windowS = config.WINDOW_TIMELAPSE;
  const fullEvery = deps.fullReadEveryTicks ?? Math.max(1, Math.ceil(60 / windowS));
  const fullRead = memory.cache === undefined || memory.cache.sinceFullRead + 1 >= fullEvery;
  const cache: TickCache = memory.cache ?? { sinceFullRead: 0, hostNames: [], guards: new Map() };
  memory.cache = cache;
  report.fullRead = fullRead;
  const adopt = (entry: CachedGuard, read: { state: GuardState } | undefined): void => {
    const stored = read?.state.version ?? null;
    if (entry.stored === stored && (entry.state !== null || stored === null)) return; // ours: memory is newer
    if (entry.state !== null || entry.stored !== null) report.adopted += 1;
    entry.state = read?.state ?? null;
    entry.stored = stored;
    entry.dirty = false;
  };
  const entryFor = (key: { pk: string; sk: string }): CachedGuard => {
    const id = `${key.pk}|${key.sk}`;
    let entry = cache.guards.get(id);
    if (entry === undefined) {
      entry = { key, state: null, stored: null, dirty: false };
      cache.guards.set(id, entry);
    }
    return entry;
  };
  const containers = new Map<string, { container: Container; host: string }>();
  const hostStates: HostState[] = [];
  /** GUARD items read this tick (full read, or first sight of a container), by item id. */
  const guardReads = new Map<string, { state: GuardState } | { problem: Problem } | null>(); // null: no item
  if (fullRead) {
    cache.sinceFullRead = 0;
    cache.hostNames = await table.listKind(GSI1_KINDS.hosts);
    const hosts: HostRead[] = await mapLimit(cache.hostNames, readConc, (h) => readHost(table, h));
    for (const [i, h] of hosts.entries()) {
      problems.push(...h.problems);
      const hostName = cache.hostNames[i] as string;
      for (const [c, g] of h.guards)
        guardReads.set(`${keys.guard(hostName, c).pk}|${keys.guard(hostName, c).sk}`, g);
      if (h.host === null) continue;
      hostStates.push(h.host);
      for (const c of Object.values(h.host.containers))
        containers.set(c.name, { container: c, host: hostName });
    }
  } else {
    cache.sinceFullRead += 1;
    const items = await table.batchGet(
      cache.hostNames.map((h) => keys.hostState(h)),
      { consistent: false },
    );
    for (const hostName of cache.hostNames) {
      const k = keys.hostState(hostName);
      const item = items.get(`${k.pk}|${k.sk}`);
      if (item === undefined) continue; // host removed: gone from the next listing
      const parsed = parseHostState(item, hostName);
      if ('problem' in parsed) {
        problems.push(parsed.problem);
        continue;
      }
      hostStates.push(parsed.host);
      for (const c of Object.values(parsed.host.containers))
        containers.set(c.name, { container: c, host: hostName });
    }
    if (config.STRUCTURE_GUARDED === 'container') {
      // Containers first seen this tick: their GUARD item may exist already (created by the API).
      const unseen = [...containers.values()]
        .filter(({ container }) => container.guard)
        .map(({ container, host }) => keys.guard(host, container.name))
        .filter((k) => !cache.guards.has(`${k.pk}|${k.sk}`));
      if (unseen.length > 0) {
        const found = await table.batchGet(unseen, { consistent: true });
        for (const k of unseen) {
          const item = found.get(`${k.pk}|${k.sk}`);
          guardReads.set(
            `${k.pk}|${k.sk}`,
            item === undefined ? null : parseGuard(item, k.sk.slice('GUARD#'.length)),
          );
        }
      }
    }
  }

  const targets: Target[] = [];
  if (config.STRUCTURE_GUARDED === 'container') {
    const live = new Set<string>();
    for (const { container, host } of containers.values()) {
      if (!container.guard) continue;
      const key = keys.guard(host, container.name);
      const id = `${key.pk}|${key.sk}`;
      const read = guardReads.get(id);
      if (read != null && 'problem' in read) {
        problems.push(read.problem);
        report.skips.bad_state += 1;
        cache.guards.delete(id);
        continue;
      }
      const entry = entryFor(key);
      if (fullRead || read !== undefined) adopt(entry, read ?? undefined);
      live.add(id);
      targets.push({ view: containerView(container), entry, members: [container.name] });
    }
    // Containers no longer guarded (or gone): forget them, persisting what they had.
    for (const [id, entry] of cache.guards) {
      if (live.has(id) || entry.key.sk === 'GUARD') continue;
      if (entry.dirty) writeLater.push(entry);
      cache.guards.delete(id);
    }
  } else {
    const appNames = await table.listKind(GSI1_KINDS.apps);
    const apps: AppRead[] = await mapLimit(appNames, readConc, (a) => readApplication(table, a));
    for (const a of apps) {
      problems.push(...a.problems);
      const app = a.app;
      if (app === null || !app.guard || app.state !== 'running') continue;
      if (a.guard !== null && 'problem' in a.guard) {
        problems.push(a.guard.problem);
        report.skips.bad_state += 1;
        continue;
      }
      const members = app.containers.filter((c) => containers.has(c));
      const resources: StructureView['resources'] = {};
      for (const [res, spec] of Object.entries(app.resources)) {
        if (spec === undefined) continue;
        let current = 0;
        for (const m of members)
          current += containers.get(m)?.container.resources[res as Resource]?.current ?? 0;
        resources[res as Resource] = { max: spec.max, min: spec.min, current, guard: spec.guard };
      }
      // The application partition is read every tick: its GUARD item's version is always checked.
      const entry = entryFor(keys.applicationGuard(app.name));
      adopt(entry, a.guard ?? undefined);
      targets.push({ view: { name: app.name, type: 'application', resources }, entry, members });
    }
  }
  report.structures = targets.length;
  phase('state');

  // Usage: one batched read for every member container.
  const memberNames = [...new Set(targets.flatMap((t) => t.members))];
  const usage =
    memberNames.length === 0
      ? { usage: new Map(), queries: 0, rejected: [] }
      : await deps.metrics.usage({
          structures: memberNames,
          kind: 'container',
          resources: config.GUARDABLE_RESOURCES,
          window: usageWindow(now, config.WINDOW_TIMELAPSE, config.WINDOW_DELAY),
        });
  phase('metrics');
  report.tsdbQueries = usage.queries;
  report.rejectedMetrics = usage.rejected.length;
  if (usage.rejected.length > 0) {
    logger.warn(
      { rejected: usage.rejected.slice(0, 20), total: usage.rejected.length },
      'metrics rejected for some structures',
    );
  }

  // Decide.
  const outcomes: { target: Target; out: DecideOutput }[] = [];
  for (const target of targets) {
    let u: Partial<Record<Resource, number | null>>;
    if (target.view.type === 'container') u = usage.usage.get(target.view.name) ?? {};
    else {
      u = {};
      for (const res of config.GUARDABLE_RESOURCES) {
        let sum: number | null = null;
        for (const m of target.members) {
          const v = usage.usage.get(m)?.[res];
          if (typeof v === 'number') sum = (sum ?? 0) + v;
        }
        u[res] = sum;
      }
    }
    // The previous window only if it is the one just before (a tick skipped or run late: unknown).
    const last = target.entry.lastUsage;
    const adjacent = last !== undefined && last.at < now && now - last.at <= 1.5 * windowS * 1000;
    const out = decide({
      structure: target.view,
      previous: target.entry.state,
      usage: u,
      previousUsage: adjacent ? last.usage : null,
      rules,
      config,
      now,
    });
    target.entry.lastUsage = { at: now, usage: u };
    report.decisions += 1;
    for (const s of out.skips) report.skips[s.why] += 1;
    report.events += out.newEvents.length;
    outcomes.push({ target, out });
  }

  phase('decide');

  // Persist what must be, record activity.
  const activities: ActivityLine[] = [];
  const toSubmit: ScaleRequest[] = [];
  const horizon = now - config.EVENT_TIMEOUT * 1000;
  for (const { target, out } of outcomes) {
    const name = target.view.name;
    const entry = target.entry;
    const previous = entry.state;
    // A container's lines are packed under its host's partition (its GUARD item's).
    const host = hostOfPartition(entry.key.pk);
    if (out.changed) {
      entry.state = out.state;
      entry.dirty = true;
    }
    const mustPersist =
      out.requests.length > 0 ||
      entry.stored === null ||
      JSON.stringify(previous?.limits ?? null) !== JSON.stringify(out.state.limits);
    if (entry.dirty && mustPersist) writeLater.push(entry);
    // Events: only the start of a run is recorded (no live event of that resource and direction
    // before this tick); the request that a run leads to records the counts in its reasons.
    let seq = 0;
    for (const e of out.newEvents) {
      const running = (previous?.events ?? []).some(
        (p) => p.resource === e.resource && p.direction === e.direction && p.timestamp > horizon,
      );
      if (running) continue;
      const reasons =
        out.decisions.find((d) => d.resource === e.resource)?.reasons.filter((r) => r.source === e.rule) ??
        [];
      const activity: Activity = {
        structure: name,
        at: now,
        kind: 'event',
        resource: e.resource,
        text: `${eventName(e.resource, e.direction)} (${e.rule})`,
        reasons,
        data: { direction: e.direction, dryRun: out.dryRun },
      };
      activities.push({ activity, seq: `ev${seq++}`, host });
    }
    for (const r of out.requests) {
      const activity: Activity = {
        structure: name,
        at: now,
        kind: out.dryRun ? 'decision' : 'request',
        resource: r.resource,
        text: `${out.dryRun ? 'dry run: would request ' : ''}${requestAction(r)} ${r.amount > 0 ? '+' : ''}${r.amount}`,
        reasons: r.reasons,
        data: { id: r.id, amount: r.amount, usage: r.usage, dryRun: out.dryRun },
      };
      activities.push({ activity, seq: `rq${seq++}`, host });
      report.requests.push(r);
      if (out.dryRun) report.dryRun += 1;
      else toSubmit.push(r);
    }
  }
  const writes: (() => Promise<void>)[] = writeLater.map((entry) => async () => {
    const w = await persistGuard(deps, entry);
    if (w === 'written') report.guardWrites += 1;
    else report.staleWrites += 1;
  });
  report.activityRecords = activities.length;
  if (deps.activity != null) await deps.activity.recordActivity(activities);
  else if (activities.length > 0) writes.push(() => writeActivity(table, activities));
  await mapLimit(writes, writeConc, (w) => w());

  report.unpersisted = 0;
  for (const e of cache.guards.values()) if (e.dirty) report.unpersisted += 1;
  if (oneShot) {
    const c = await checkpoint(deps, memory);
    report.guardWrites += c.written;
    report.staleWrites += c.stale;
    report.unpersisted = 0;
  }

  if (toSubmit.length > 0) {
    const result = await deps.sink.submit(toSubmit, now);
    report.submitted = toSubmit.length;
    for (const r of result.rejected)
      logger.warn({ request: r.id, reason: r.reason }, 'request rejected by the planner');
  }
  if (deps.snapshots != null) {
    const limits = new Map<string, GuardState['limits']>();
    for (const t of targets)
      if (t.view.type === 'container' && t.entry.state !== null)
        limits.set(t.view.name, t.entry.state.limits);
    const points = hostPoints(
      hostStates.map((state) => ({ state, limits: (c: string) => limits.get(c) })),
      usage.usage,
      now,
    );
    try {
      await deps.snapshots.put(points);
    } catch (err) {
      logger.warn({ err, points: points.length }, 'snapshot not published; the tick goes on');
    }
  }
  // The lines held (the Guardian's and the planner's) of the hosts that are due; all of them in a one-shot tick.
  await flushActivity(deps, now, oneShot);
  phase('write');
  return finish();
}
