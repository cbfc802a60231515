/**
 * The decide step of a Guardian tick, pure: the structures to guard from the
 * state read (a container as it is; an application aggregated from its
 * containers by core/policy/aggregate.ts), one `decide` per structure on the
 * window's usage, and the activity lines the decisions make. No I/O, no clock:
 * `now` is an argument.
 */
import type { Activity } from '../../core/contracts/activity.ts';
import type { GuardState } from '../../core/contracts/guard-state.ts';
import { requestAction, type ScaleRequest } from '../../core/contracts/request.ts';
import type { GuardianConfig } from '../../core/contracts/service-config.ts';
import type { Application, Container, UsageMap } from '../../core/contracts/structure.ts';
import type { Resource } from '../../core/contracts/units.ts';
import { aggregateApplication } from '../../core/policy/aggregate.ts';
import {
  type CompiledRules,
  type DecideOutput,
  decide,
  type StructureView,
} from '../../core/policy/guardian/decide.ts';
import { eventName } from '../../core/policy/guardian/events.ts';
import type { ActivityLine } from '../../core/ports/guardian-state.ts';

type Usage = Partial<Record<Resource, number | null>>;

/** What the decide step needs of one structure's cached guard state. */
export interface DecideEntry {
  state: GuardState | null;
  /** The usage decided on at the last tick (`at`): the previous window if adjacent. */
  lastUsage?: { at: number; usage: Usage };
}

export interface Target<E extends DecideEntry = DecideEntry> {
  view: StructureView;
  entry: E;
  /** container names whose usage makes this structure's (one for a container). */
  members: readonly string[];
  /** An application target's application (its usage is aggregated over `members`). */
  application?: AppSpec;
}

type AppSpec = Pick<Application, 'name' | 'containers' | 'resources'>;

export function containerView(c: Container): StructureView {
  const resources: StructureView['resources'] = {};
  for (const [res, spec] of Object.entries(c.resources)) {
    if (spec !== undefined)
      resources[res as Resource] = { max: spec.max, min: spec.min, current: spec.current, guard: spec.guard };
  }
  return { name: c.name, type: 'container', resources };
}

/**
 * An application as the Guardian guards it: its own max/min/guard/weight with
 * `current` = Σ of its present containers' current (aggregateApplication), and
 * the containers whose usage makes its usage.
 */
export function applicationView(
  app: AppSpec,
  containers: ReadonlyMap<string, Pick<Container, 'resources'>>,
): { view: StructureView; members: string[] } {
  const agg = aggregateApplication(app, containers, new Map());
  return {
    view: { name: app.name, type: 'application', resources: agg.resources },
    members: app.containers.filter((c) => containers.has(c)),
  };
}

/** A target's usage over the window: its container's, or the sum over an application's members. */
export function usageOf(target: Target, usage: ReadonlyMap<string, UsageMap>): Usage {
  if (target.application === undefined) return usage.get(target.view.name) ?? {};
  const members = new Map(target.members.map((m) => [m, { resources: {} }]));
  return aggregateApplication(target.application, members, usage).usage;
}

export interface DecidedTarget<E extends DecideEntry> {
  target: Target<E>;
  out: DecideOutput;
  usage: Usage;
}

/**
 * Decide every target on the window's usage. The previous window is passed
 * only if it is the one just before `now` (a tick skipped or run late: unknown).
 */
export function decideTargets<E extends DecideEntry>(
  targets: readonly Target<E>[],
  usage: ReadonlyMap<string, UsageMap>,
  rules: CompiledRules,
  config: GuardianConfig,
  now: number,
): DecidedTarget<E>[] {
  const windowS = config.WINDOW_TIMELAPSE;
  return targets.map((target) => {
    const u = usageOf(target, usage);
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
    return { target, out, usage: u };
  });
}

/**
 * The activity lines of one decision, packed under `host`: the start of a run
 * of events only (no live event of that resource and direction before this
 * tick; the request the run leads to records the counts in its reasons), and
 * every request (a decision under dry run).
 */
export function activityLines(
  name: string,
  host: string | null,
  previous: GuardState | null,
  out: DecideOutput,
  now: number,
  horizon: number,
): ActivityLine[] {
  const lines: ActivityLine[] = [];
  let seq = 0;
  for (const e of out.newEvents) {
    const running = (previous?.events ?? []).some(
      (p) => p.resource === e.resource && p.direction === e.direction && p.timestamp > horizon,
    );
    if (running) continue;
    const reasons =
      out.decisions.find((d) => d.resource === e.resource)?.reasons.filter((r) => r.source === e.rule) ?? [];
    const activity: Activity = {
      structure: name,
      at: now,
      kind: 'event',
      resource: e.resource,
      text: `${eventName(e.resource, e.direction)} (${e.rule})`,
      reasons,
      data: { direction: e.direction, dryRun: out.dryRun },
    };
    lines.push({ activity, seq: `ev${seq++}`, host });
  }
  for (const r of out.requests)
    lines.push({ activity: requestActivity(name, r, out.dryRun, now), seq: `rq${seq++}`, host });
  return lines;
}

function requestActivity(name: string, r: ScaleRequest, dryRun: boolean, now: number): Activity {
  return {
    structure: name,
    at: now,
    kind: dryRun ? 'decision' : 'request',
    resource: r.resource,
    text: `${dryRun ? 'dry run: would request ' : ''}${requestAction(r)} ${r.amount > 0 ? '+' : ''}${r.amount}`,
    reasons: r.reasons,
    data: { id: r.id, amount: r.amount, usage: r.usage, dryRun },
  };
}

/** Whether a decided state must be written now (not only at the checkpoint): a request, a first state, new limits. */
export function mustPersist(stored: number | null, previous: GuardState | null, out: DecideOutput): boolean {
  return (
    out.requests.length > 0 ||
    stored === null ||
    JSON.stringify(previous?.limits ?? null) !== JSON.stringify(out.state.limits)
  );
}
