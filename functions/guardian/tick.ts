/**
 * One Guardian tick: hot-reload config and rules, read the hosts (and
 * applications; tick-read.ts), read usage in batched queries, decide per
 * guarded structure (tick-decide.ts, pure), persist guard states that must be,
 * record activity, hand requests to the sink. The state is a port
 * (core/ports/guardian-state.ts), never the table.
 *
 * Lean between ticks of one leased invocation (the lease makes it the only
 * Guardian): each structure's guard state (limits, live events, last decision)
 * is kept in `memory.cache`, with the usage of its last window (memory only: the
 * next tick's previous window, which tells a load's onset from a level). The first tick (and every `fullReadEveryTicks`)
 * lists the hosts and reads whole host partitions, strongly consistent; the
 * others read only the hosts' states (eventually consistent: the planner
 * re-reads and commits conditionally, so deciding on a host state one tick old
 * is safe) and the guard states of containers not seen before.
 * A guard state is written when its limits change, when a request is emitted
 * (events consumed; before the request is submitted) and at `checkpoint`
 * (the invocation's end); a stored version other than the one this invocation
 * wrote means someone else (an operator) changed it: the stored state wins.
 */

import type { Logger } from '../../adapters/logger.ts';
import type { GuardState } from '../../core/contracts/guard-state.ts';
import type { HostState } from '../../core/contracts/host.ts';
import type { ScaleRequest } from '../../core/contracts/request.ts';
import { defaultConfig, type GuardianConfig } from '../../core/contracts/service-config.ts';
import { StaleStateError } from '../../core/errors.ts';
import { mapLimit } from '../../core/map-limit.ts';
import { compileRules } from '../../core/policy/guardian/decide.ts';
import type {
  ActivityHold,
  ActivityLine,
  GuardianState,
  Problem,
  TickLease,
} from '../../core/ports/guardian-state.ts';
import type { MetricsSource, UsageResult } from '../../core/ports/metrics-source.ts';
import { usageWindow } from '../../core/ports/metrics-source.ts';
import type { RequestSink, SubmitHints } from '../../core/ports/request-sink.ts';
import type { PointSink } from '../../core/ports/time-series.ts';
import { hostPoints } from '../ops/snapshot.ts';
import { activityLines, type DecidedTarget, decideTargets, mustPersist } from './tick-decide.ts';
import {
  type CachedGuard,
  type HostListing,
  readTick,
  type TickMemory,
  type TickRead,
  type TickShard,
} from './tick-read.ts';

export type { CachedGuard, HostListing, TickCache, TickMemory, TickShard } from './tick-read.ts';

export interface TickDeps {
  state: GuardianState;
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
  activity?: ActivityHold | null;
  /** Time the invocation has left for this tick, ms (its deadline less the reserve); unset: the window only. */
  timeLeftMs?: () => number;
  /** Cancels the tick's metrics requests (the invocation is stopping). */
  signal?: AbortSignal;
  /** Decide only this shard's hosts and applications (docs/shards.md); unset: the whole fleet. */
  shard?: TickShard;
  /** The host listing this process shares between its chains (tick-read.ts); unset: each full read lists. */
  listing?: HostListing;
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
  /** Structures that took the live events a carry held (a chain tick that did not resume; carry.ts). */
  carried: number;
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
  /** The structures decided this tick, by name (the decisions log a shard's exactly-once check reads). */
  decided: string[];
  /** Containers whose usage the decisions read (a container, or an application's members). */
  containers: number;
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
    await deps.state.writeGuard(entry.ref, { ...state, version }, entry.stored);
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
    const read = await deps.state.readGuard(entry.ref);
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
  return persistAll(
    deps,
    [...(memory.cache?.guards.values() ?? [])].filter((e) => e.dirty),
  );
}

/** Write each of `entries` (conditional on the version this invocation knows). */
async function persistAll(
  deps: TickDeps,
  entries: readonly CachedGuard[],
): Promise<{ written: number; stale: number }> {
  let written = 0;
  let stale = 0;
  await mapLimit(entries, deps.writeConcurrency ?? 16, async (e) => {
    if ((await persistGuard(deps, e)) === 'written') written += 1;
    else stale += 1;
  });
  return { written, stale };
}

/**
 * The chained clock's checkpoint, spread over its ticks: the `count` states kept only in memory the
 * longest (at least every one dirty since `overdueAt` or before). Writing them all in one tick
 * made a shard's longest tick (docs/shards.md).
 */
export async function checkpointOldest(
  deps: TickDeps,
  memory: TickMemory,
  count: number,
  overdueAt: number,
): Promise<{ written: number; stale: number }> {
  const dirty = [...(memory.cache?.guards.values() ?? [])]
    .filter((e) => e.dirty)
    .sort((a, b) => (a.dirtySince ?? 0) - (b.dirtySince ?? 0));
  const overdue = dirty.findIndex((e) => (e.dirtySince ?? 0) > overdueAt);
  return persistAll(deps, dirty.slice(0, Math.max(count, overdue === -1 ? dirty.length : overdue)));
}

function emptyReport(now: number, config: GuardianConfig): TickReport {
  return {
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
    carried: 0,
    unpersisted: 0,
    activityRecords: 0,
    tsdbQueries: 0,
    ddbReads: 0,
    ddbWrites: 0,
    ms: 0,
    phasesMs: { state: 0, metrics: 0, decide: 0, write: 0 },
    decided: [],
    containers: 0,
  };
}

/**
 * One tick. Pass the same `memory` to every tick of an invocation and call
 * `checkpoint` at its end; without `memory` the tick is an invocation of its
 * own (full read, everything decided is persisted before it returns).
 */
export async function runTick(deps: TickDeps, now: number, memoryArg?: TickMemory): Promise<TickReport> {
  const oneShot = memoryArg === undefined;
  const memory: TickMemory = memoryArg ?? { config: defaultConfig('guardian') };
  const { state, logger } = deps;
  const started = performance.now();
  const reads0 = state.counters.reads;
  const writes0 = state.counters.writes;
  const problems: Problem[] = [];

  const loaded = await state.loadConfig(memory.config);
  problems.push(...loaded.problems);
  const config = loaded.config;
  memory.config = config;
  const report = emptyReport(now, config);
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
    report.ddbReads = state.counters.reads - reads0;
    report.ddbWrites = state.counters.writes - writes0;
    report.ms = Math.round(performance.now() - started);
    const { config: _c, requests, decided: _d, ...figures } = report;
    logger.info({ tick: { ...figures, requests: requests.length } }, 'guardian tick');
    return report;
  };
  if (!config.ACTIVE) return finish();

  const ruleLoad = await state.loadRules(config);
  problems.push(...ruleLoad.problems);
  const rules = compileRules(ruleLoad.rules);

  // Read hosts (always: container currents live there) and, at application level, applications.
  const read = await readTick(state, memory, config, {
    readConcurrency: deps.readConcurrency ?? 16,
    fullReadEveryTicks: deps.fullReadEveryTicks ?? Math.max(1, Math.ceil(60 / config.WINDOW_TIMELAPSE)),
    shard: deps.shard,
    now,
    listing: deps.listing,
  });
  problems.push(...read.problems);
  report.fullRead = read.fullRead;
  report.adopted = read.adopted;
  report.carried = read.carried;
  report.skips.bad_state += read.badState;
  const targets = read.targets;
  report.structures = targets.length;
  phase('state');

  // Usage: one batched read for every member container.
  const memberNames = [...new Set(targets.flatMap((t) => t.members))];
  report.containers = memberNames.length;
  const usage: UsageResult =
    memberNames.length === 0
      ? { usage: new Map(), queries: 0, rejected: [] }
      : await deps.metrics.usage(
          {
            structures: memberNames,
            kind: 'container',
            resources: config.GUARDABLE_RESOURCES,
            window: usageWindow(now, config.WINDOW_TIMELAPSE, config.WINDOW_DELAY),
          },
          {
            // Never past the next tick nor the invocation's deadline; one retry at most inside it.
            timeLeftMs: Math.min(
              config.WINDOW_TIMELAPSE * 1000,
              deps.timeLeftMs?.() ?? Number.POSITIVE_INFINITY,
            ),
            ...(deps.signal === undefined ? {} : { signal: deps.signal }),
          },
        );
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
  const decided = decideTargets(targets, usage.usage, rules, config, now);
  for (const { target, out, usage: u } of decided) {
    target.entry.lastUsage = { at: now, usage: u };
    report.decisions += 1;
    report.decided.push(target.view.name);
    for (const s of out.skips) report.skips[s.why] += 1;
    report.events += out.newEvents.length;
  }
  phase('decide');

  // Persist what must be, record activity, submit, publish.
  await persistTick(deps, { memory, read, decided, usage, config, now, oneShot }, report);
  phase('write');
  return finish();
}

interface Decided {
  memory: TickMemory;
  read: TickRead;
  decided: DecidedTarget<CachedGuard>[];
  usage: UsageResult;
  config: GuardianConfig;
  now: number;
  oneShot: boolean;
}

/** Apply the decisions to the cache: which states to write now, the activity lines, the requests to submit. */
function applyDecisions(t: Decided, report: TickReport) {
  const writeLater: CachedGuard[] = [...t.read.writeLater];
  const activities: ActivityLine[] = [];
  const toSubmit: ScaleRequest[] = [];
  const horizon = t.now - t.config.EVENT_TIMEOUT * 1000;
  for (const { target, out } of t.decided) {
    const entry = target.entry;
    const previous = entry.state;
    if (out.changed) {
      entry.state = out.state;
      if (!entry.dirty) entry.dirtySince = t.now;
      entry.dirty = true;
    }
    if (entry.dirty && mustPersist(entry.stored, previous, out)) writeLater.push(entry);
    // A container's lines are packed under its host's partition (its guard state's).
    activities.push(...activityLines(target.view.name, entry.ref.host, previous, out, t.now, horizon));
    for (const r of out.requests) {
      report.requests.push(r);
      if (out.dryRun) report.dryRun += 1;
      else toSubmit.push(r);
    }
  }
  return { writeLater, activities, toSubmit };
}

async function persistTick(deps: TickDeps, t: Decided, report: TickReport): Promise<void> {
  const { logger } = deps;
  const { writeLater, activities, toSubmit } = applyDecisions(t, report);
  const writes: (() => Promise<void>)[] = writeLater.map((entry) => async () => {
    const w = await persistGuard(deps, entry);
    if (w === 'written') report.guardWrites += 1;
    else report.staleWrites += 1;
  });
  report.activityRecords = activities.length;
  if (deps.activity != null) await deps.activity.recordActivity(activities);
  else if (activities.length > 0) writes.push(() => deps.state.recordActivity(activities));
  await mapLimit(writes, deps.writeConcurrency ?? 16, (w) => w());

  report.unpersisted = 0;
  for (const e of t.memory.cache?.guards.values() ?? []) if (e.dirty) report.unpersisted += 1;
  if (t.oneShot) {
    const c = await checkpoint(deps, t.memory);
    report.guardWrites += c.written;
    report.staleWrites += c.stale;
    report.unpersisted = 0;
  }

  if (toSubmit.length > 0) {
    const result = await deps.sink.submit(toSubmit, t.now, plannerHints(t.read.hostStates, toSubmit));
    report.submitted = toSubmit.length;
    for (const r of result.rejected)
      logger.warn({ request: r.id, reason: r.reason }, 'request rejected by the planner');
  }
  if (deps.snapshots != null) await publishSnapshot(deps, deps.snapshots, t);
  // The lines held (the Guardian's and the planner's) of the hosts that are due; all of them in a one-shot tick.
  await flushActivity(deps, t.now, t.oneShot);
}

/**
 * Where this tick read the requested containers and those hosts' states: the planner need not read
 * their locators nor the hosts again (its commits stay conditional on each host's version).
 */
function plannerHints(hosts: readonly HostState[], requests: readonly ScaleRequest[]): SubmitHints {
  const wanted = new Set<string>();
  for (const r of requests) {
    if (r.structureType === 'container') wanted.add(r.structure);
    if (r.pairStructure !== null) wanted.add(r.pairStructure);
  }
  const hostOf = new Map<string, string>();
  const states = new Map<string, HostState>();
  for (const h of hosts)
    for (const c of Object.keys(h.containers))
      if (wanted.has(c)) {
        hostOf.set(c, h.name);
        states.set(h.name, h);
      }
  return { hostOf, hosts: states };
}

/** The tick's host and container snapshot (the limits it decided); a failed put is only logged. */
async function publishSnapshot(deps: TickDeps, snapshots: PointSink, t: Decided): Promise<void> {
  const limits = new Map<string, GuardState['limits']>();
  for (const { target } of t.decided)
    if (target.view.type === 'container' && target.entry.state !== null)
      limits.set(target.view.name, target.entry.state.limits);
  const points = hostPoints(
    t.read.hostStates.map((state) => ({ state, limits: (c: string) => limits.get(c) })),
    t.usage.usage,
    t.now,
  );
  try {
    await snapshots.put(points);
  } catch (err) {
    deps.logger.warn({ err, points: points.length }, 'snapshot not published; the tick goes on');
  }
}

/** How often the control tick writes its heartbeat at most (a stale one is minutes old). */
export const HEARTBEAT_EVERY_MS = 30_000;

/**
 * The control tick's heartbeat (the Guardian and the Scaler ran) when `lastBeat` is null or at
 * least HEARTBEAT_EVERY_MS old: two writes per tick would double the tick's fixed write cost at a
 * 1 s window. Returns the new last beat; a failed write is logged and retried at the next tick.
 */
export async function beatIfDue(
  state: Pick<TickLease, 'recordHeartbeat'>,
  lastBeat: number | null,
  now: number,
  logger: Pick<Logger, 'warn'>,
): Promise<number | null> {
  if (lastBeat !== null && now - lastBeat < HEARTBEAT_EVERY_MS) return lastBeat;
  let written = false;
  for (const service of ['guardian', 'scaler'] as const) {
    try {
      await state.recordHeartbeat(service, now);
      written = true;
    } catch (err) {
      logger.warn({ err: (err as Error).message, service }, 'service heartbeat not written');
    }
  }
  return written ? now : lastBeat;
}
