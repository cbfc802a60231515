/**
 * One Guardian tick: hot-reload config and rules, read every host (and
 * application) with bounded concurrency, read usage in batched queries,
 * decide per guarded structure, write guard states that changed, record
 * events and requests as activity, hand requests to the sink.
 */

import { GSI1_KINDS, keys } from '../../adapters/dynamodb/table.ts';
import type { TableClient } from '../../adapters/dynamodb/table-client.ts';
import type { Logger } from '../../adapters/logger.ts';
import type { Activity } from '../../core/contracts/activity.ts';
import type { GuardState } from '../../core/contracts/guard-state.ts';
import { requestAction, type ScaleRequest } from '../../core/contracts/request.ts';
import { defaultConfig, type GuardianConfig } from '../../core/contracts/service-config.ts';
import type { Container } from '../../core/contracts/structure.ts';
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
import {
  ACTIVITY_BATCH,
  type AppRead,
  appendActivities,
  type HostRead,
  loadConfig,
  loadRules,
  type Problem,
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
}

/** Carried between ticks of one invocation: the last good config. */
export interface TickMemory {
  config: GuardianConfig;
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
  tsdbQueries: number;
  ddbReads: number;
  ddbWrites: number;
  ms: number;
  /** Where the time went: state reads, metrics, decisions, writes + sink. */
  phasesMs: { state: number; metrics: number; decide: number; write: number };
}

interface Target {
  view: StructureView;
  key: { pk: string; sk: string };
  previous: GuardState | null;
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

export async function runTick(
  deps: TickDeps,
  now: number,
  memory: TickMemory = { config: defaultConfig('guardian') },
): Promise<TickReport> {
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
  const hostNames = await table.listKind(GSI1_KINDS.hosts);
  const hosts: HostRead[] = await mapLimit(hostNames, readConc, (h) => readHost(table, h));
  const containers = new Map<
    string,
    { container: Container; guard: { state: GuardState } | { problem: Problem } | undefined; host: string }
  >();
  for (const [i, h] of hosts.entries()) {
    problems.push(...h.problems);
    if (h.host === null) continue;
    for (const c of Object.values(h.host.containers)) {
      containers.set(c.name, { container: c, guard: h.guards.get(c.name), host: hostNames[i] as string });
    }
  }

  const targets: Target[] = [];
  if (config.STRUCTURE_GUARDED === 'container') {
    for (const { container, guard, host } of containers.values()) {
      if (!container.guard) continue;
      if (guard !== undefined && 'problem' in guard) {
        problems.push(guard.problem);
        report.skips.bad_state += 1;
        continue;
      }
      targets.push({
        view: containerView(container),
        key: keys.guard(host, container.name),
        previous: guard?.state ?? null,
        members: [container.name],
      });
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
      targets.push({
        view: { name: app.name, type: 'application', resources },
        key: keys.applicationGuard(app.name),
        previous: a.guard?.state ?? null,
        members,
      });
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
    const out = decide({ structure: target.view, previous: target.previous, usage: u, rules, config, now });
    report.decisions += 1;
    for (const s of out.skips) report.skips[s.why] += 1;
    report.events += out.newEvents.length;
    outcomes.push({ target, out });
  }

  phase('decide');

  // Write what changed, record activity.
  const writes: (() => Promise<void>)[] = [];
  const activities: { activity: Activity; seq: string }[] = [];
  const toSubmit: ScaleRequest[] = [];
  for (const { target, out } of outcomes) {
    const name = target.view.name;
    if (out.changed) {
      const expected = target.previous?.version ?? null;
      const state = { ...out.state, version: (expected ?? 0) + 1 };
      writes.push(async () => {
        try {
          await writeGuard(table, target.key, state, expected);
          report.guardWrites += 1;
        } catch (err) {
          if (!(err instanceof StaleStateError)) throw err;
          report.staleWrites += 1;
          logger.warn({ structure: name }, 'guard state changed concurrently; decided again next tick');
        }
      });
    }
    let seq = 0;
    for (const e of out.newEvents) {
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
      activities.push({ activity, seq: `ev${seq++}` });
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
      activities.push({ activity, seq: `rq${seq++}` });
      report.requests.push(r);
      if (out.dryRun) report.dryRun += 1;
      else toSubmit.push(r);
    }
  }
  for (let i = 0; i < activities.length; i += ACTIVITY_BATCH) {
    const batch = activities.slice(i, i + ACTIVITY_BATCH);
    writes.push(() => appendActivities(table, batch));
  }
  await mapLimit(writes, writeConc, (w) => w());

  if (toSubmit.length > 0) {
    const result = await deps.sink.submit(toSubmit, now);
    report.submitted = toSubmit.length;
    for (const r of result.rejected)
      logger.warn({ request: r.id, reason: r.reason }, 'request rejected by the planner');
  }
  phase('write');
  return finish();
}
