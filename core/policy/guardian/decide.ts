import type { ScaleEvent } from '../../contracts/event.ts';
import type { Decision, GuardState } from '../../contracts/guard-state.ts';
import type { ResourceLimits } from '../../contracts/limits.ts';
import type { Reason } from '../../contracts/reason.ts';
import { requestAction, type ScaleRequest } from '../../contracts/request.ts';
import type { EventRule, RequestRule, Rule } from '../../contracts/rule.ts';
import type { GuardianConfig } from '../../contracts/service-config.ts';
import type { Resource } from '../../contracts/units.ts';
import { type AmountInputs, type AmountShaping, computeAmount } from './amounts.ts';
import { consumeEvents, countEvents, eventName, expireEvents } from './events.ts';
import { enforceLimits } from './limits.ts';
import {
  compileLogic,
  countsResolver,
  type Evaluator,
  type ResourceView,
  truthy,
  viewResolver,
} from './rule-eval.ts';

/**
 * One Guardian decision for one structure: enforce its limits, evaluate the
 * event rules, age and count its events, evaluate the request rules, compute
 * and trim amounts. Pure: `now` is an argument, the result says what to write
 * and what to request, and why.
 */

export interface CompiledRules {
  /** Active event rules by the resource they belong to. */
  events: ReadonlyMap<Resource, readonly { rule: EventRule; test: Evaluator }[]>;
  /** Active request rules by resource, in load order. */
  requests: ReadonlyMap<Resource, readonly { rule: RequestRule; test: Evaluator }[]>;
}

/** Compile the active rules once per load (they must have passed checkRule). */
export function compileRules(rules: readonly Rule[]): CompiledRules {
  const events = new Map<Resource, { rule: EventRule; test: Evaluator }[]>();
  const requests = new Map<Resource, { rule: RequestRule; test: Evaluator }[]>();
  for (const rule of rules) {
    if (!rule.active) continue;
    if (rule.generates === 'events') {
      const test = compileLogic(rule.rule, viewResolver);
      const list = events.get(rule.resource) ?? [];
      list.push({ rule, test });
      events.set(rule.resource, list);
    } else {
      const test = compileLogic(rule.rule, countsResolver);
      const list = requests.get(rule.resource) ?? [];
      list.push({ rule, test });
      requests.set(rule.resource, list);
    }
  }
  return { events, requests };
}

export interface ResourceAllocation {
  max: number;
  min: number;
  current: number;
  guard: boolean;
  /** The structure's share when resources move between peers (the rebalancer's); not used to decide. */
  weight?: number;
}

export interface StructureView {
  name: string;
  type: 'container' | 'application';
  resources: Partial<Record<Resource, ResourceAllocation>>;
}

export interface DecideInput {
  structure: StructureView;
  /** The stored guard state (limits, live events), or null when the structure has none yet. */
  previous: GuardState | null;
  /** Usage over the window per resource; null or missing = no data. */
  usage: Partial<Record<Resource, number | null>>;
  /**
   * Usage over the previous window (the tick before) per resource, as the caller
   * remembers it; null or missing = unknown. It tells a level from an onset in
   * the up shaping (amounts.ts riseOf); unknown keeps the shaping of a level.
   */
  previousUsage?: Partial<Record<Resource, number | null>> | null;
  rules: CompiledRules;
  config: Pick<
    GuardianConfig,
    | 'GUARDABLE_RESOURCES'
    | 'EVENT_TIMEOUT'
    | 'DRY_RUN'
    | 'SCALE_UP_FIT'
    | 'SCALE_UP_GROWTH'
    | 'SCALE_DOWN_MIN'
  >;
  now: number;
}

export type SkipWhy = 'no_data' | 'bad_usage';

export interface DecideOutput {
  /** The guard state to store (version not yet bumped). */
  state: GuardState;
  /** Whether `state` differs from `previous` in anything but timestamps. */
  changed: boolean;
  newEvents: ScaleEvent[];
  /** Requests the structure needs (also present under dry run: the caller must not submit them then). */
  requests: ScaleRequest[];
  decisions: Decision[];
  skips: { resource: Resource; why: SkipWhy; value: number | null }[];
  dryRun: boolean;
}

/** Kept short: the reason goes into every request's activity record. */
const SHAPED_TEXT = { grown: 'grown', fit: 'fit', onset: 'onset' } as const;

const RANK = { request: 3, event: 2, skip: 1, stable: 0 } as const;

function sameEvents(a: readonly ScaleEvent[], b: readonly ScaleEvent[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as ScaleEvent;
    const y = b[i] as ScaleEvent;
    if (
      x.timestamp !== y.timestamp ||
      x.rule !== y.rule ||
      x.resource !== y.resource ||
      x.direction !== y.direction
    )
      return false;
  }
  return true;
}

/**
 * Whether a down event should count: some down request rule of the resource
 * would order a scale-down at this window's usage. With SCALE_DOWN_MIN, usage
 * under lower by less than the minimum step would only gather events that end
 * in 'too small' (consumed, gathered again: a run of events every minute,
 * each recorded as activity and checkpointed), never in an order; so it is not
 * an event at all, and the structure stays quiet until usage is low enough to
 * be worth a scale-down. SCALE_DOWN_MIN 0 keeps the original's events.
 */
function downWorthAnOrder(
  requestRules: readonly { rule: RequestRule }[] | undefined,
  view: AmountInputs,
  shaping: AmountShaping,
): boolean {
  if (shaping.minDown === 0) return true;
  return (requestRules ?? []).some(
    ({ rule }) => rule.rescale_type === 'down' && computeAmount(rule, view, shaping).amount !== 0,
  );
}

/**
 * Step 1 of a decision: enforce each guarded resource's limits and keep the
 * resources whose usage can be decided on (a skip decision for the others).
 */
function usableResources(input: DecideInput, dryRun: boolean) {
  const { structure, previous, usage, config, now } = input;
  let limits: Partial<Record<Resource, ResourceLimits>> = previous?.limits ?? {};
  let limitsChanged = previous === null;
  const views = new Map<Resource, ResourceView & { margin: number }>();
  const decisions: Decision[] = [];
  const ranks: number[] = [];
  const skips: DecideOutput['skips'] = [];
  for (const res of config.GUARDABLE_RESOURCES) {
    const alloc = structure.resources[res];
    if (alloc === undefined || !alloc.guard) continue;
    const enforced = enforceLimits(alloc, previous?.limits[res]);
    if (enforced.changed) {
      if (limits === previous?.limits) limits = { ...limits }; // copy on first write, never mutate the input
      limits[res] = enforced.limits;
      limitsChanged = true;
    }
    const u = usage[res];
    if (u === null || u === undefined || !Number.isFinite(u) || u < 0) {
      const why: SkipWhy = u === null || u === undefined ? 'no_data' : 'bad_usage';
      skips.push({ resource: res, why, value: u ?? null });
      decisions.push({
        at: now,
        resource: res,
        text: why === 'no_data' ? 'skipped: no data' : `skipped: bad usage ${u}`,
        reasons: [],
        dryRun,
      });
      ranks.push(RANK.skip);
      continue;
    }
    views.set(res, {
      max: alloc.max,
      min: alloc.min,
      current: enforced.current,
      usage: u,
      upper: enforced.limits.upper,
      lower: enforced.limits.lower,
      boundary: enforced.limits.boundary,
      margin: enforced.margin,
    });
  }

  return { limits, limitsChanged, views, decisions, ranks, skips };
}

/** The decision that says most (a request over an event over a skip over stable; the first of a rank). */
function mostTelling(decisions: readonly Decision[], ranks: readonly number[]): Decision | null {
  let best: Decision | null = null;
  let bestRank = -1;
  for (let i = 0; i < decisions.length; i++) {
    if ((ranks[i] as number) > bestRank) {
      best = decisions[i] as Decision;
      bestRank = ranks[i] as number;
    }
  }
  return best;
}

export function decide(input: DecideInput): DecideOutput {
  const { structure, previous, rules, config, now } = input;
  const previousUsage = input.previousUsage ?? {};
  const dryRun = config.DRY_RUN || (previous?.dryRun ?? false);
  // 1. limits and usable resources
  const { limits, limitsChanged, views, decisions, ranks, skips } = usableResources(input, dryRun);

  // 2. event rules over every usable resource
  const shaping: AmountShaping = {
    fit: config.SCALE_UP_FIT,
    growth: config.SCALE_UP_GROWTH,
    minDown: config.SCALE_DOWN_MIN,
  };
  const newEvents: ScaleEvent[] = [];
  const eventReasons = new Map<Resource, Reason[]>();
  if (views.size > 0) {
    for (const [res, view] of views) {
      for (const { rule, test } of rules.events.get(res) ?? []) {
        if (!truthy(test(views))) continue;
        const direction = 'up' in rule.action.events.scale ? 'up' : 'down';
        if (direction === 'down' && !downWorthAnOrder(rules.requests.get(res), view, shaping)) continue;
        newEvents.push({
          structure: structure.name,
          resource: res,
          direction,
          rule: rule.name,
          timestamp: now,
        });
        const reasons = eventReasons.get(res) ?? [];
        reasons.push({
          source: rule.name,
          // What an operator reads: 2 decimals, and a lower limit below 0 (a small allocation with a
          // large margin) is shown as 0 — usage can never be under it. The values keep the exact numbers.
          text: `${eventName(res, direction)}: usage ${shown(view.usage)} vs upper ${shown(view.upper)} / lower ${shown(Math.max(0, view.lower))}`,
          values: {
            usage: view.usage,
            upper: view.upper,
            lower: view.lower,
            current: view.current,
            max: view.max,
            min: view.min,
          },
        });
        eventReasons.set(res, reasons);
      }
    }
  }

  // 3. age, add, count, request rules
  const before = previous?.events ?? [];
  let events = expireEvents(before, now, config.EVENT_TIMEOUT);
  if (newEvents.length > 0) events = events.concat(newEvents);
  const requests: ScaleRequest[] = [];
  for (const [res, view] of views) {
    const margin = view.margin;
    const p = previousUsage[res];
    const prevUsage = typeof p === 'number' && Number.isFinite(p) && p >= 0 ? p : null;
    let decided: Decision | null = null;
    let requested = false;
    for (const { rule, test } of rules.requests.get(res) ?? []) {
      const counts = countEvents(events, res);
      if (!truthy(test(counts))) continue;
      const result = computeAmount(rule, { ...view, previous: prevUsage }, shaping);
      events = consumeEvents(events, res, rule.rescale_type, rule.events_to_remove);
      const reason: Reason = {
        source: rule.name,
        text: `events up ${counts.up} / down ${counts.down}; ${rule.rescale_policy}${
          result.shaped === 'none' ? '' : ` (${SHAPED_TEXT[result.shaped]})`
        } → ${result.raw}${
          result.trimmed === 'none' ? '' : ` (${result.trimmed.replace('_', ' ')}: ${result.amount})`
        }`,
        values: {
          up: counts.up,
          down: counts.down,
          usage: view.usage,
          current: view.current,
          upper: view.upper,
          lower: view.lower,
          max: view.max,
          min: view.min,
          margin,
          raw: result.raw,
          amount: result.amount,
          trimmed: result.trimmed,
          ...(prevUsage === null ? {} : { previous: prevUsage }),
        },
      };
      const reasons = [reason, ...(eventReasons.get(res) ?? [])];
      if (result.amount === 0) {
        decided = { at: now, resource: res, text: `${rule.name}: nothing to do (amount 0)`, reasons, dryRun };
        continue;
      }
      const request: ScaleRequest = {
        id: `${structure.name}:${res}:${now}:${rule.name}`,
        structure: structure.name,
        structureType: structure.type,
        resource: res,
        field: 'current',
        amount: result.amount,
        priority: 0,
        timestamp: now,
        pairStructure: null,
        source: 'guardian',
        usage: view.usage,
        reasons,
      };
      requests.push(request);
      const sign = result.amount > 0 ? '+' : '';
      decided = {
        at: now,
        resource: res,
        text: `${requestAction(request)} ${sign}${result.amount}`,
        reasons,
        dryRun,
      };
      requested = true;
      break; // one request per resource per tick
    }
    if (decided !== null && requested) {
      decisions.push(decided);
      ranks.push(RANK.request);
      continue;
    }
    const er = eventReasons.get(res);
    const c = countEvents(events, res);
    if (decided !== null) {
      decisions.push(decided);
      ranks.push(RANK.event);
    } else if (er !== undefined) {
      decisions.push({
        at: now,
        resource: res,
        text: `events up ${c.up} / down ${c.down}`,
        reasons: er,
        dryRun,
      });
      ranks.push(RANK.event);
    } else {
      decisions.push({
        at: now,
        resource: res,
        text: c.up + c.down === 0 ? 'stable' : `stable (events up ${c.up} / down ${c.down})`,
        reasons: [],
        dryRun,
      });
      ranks.push(RANK.stable);
    }
  }

  const lastDecision = mostTelling(decisions, ranks) ?? previous?.lastDecision ?? null;
  const decisionChanged =
    (lastDecision?.text ?? null) !== (previous?.lastDecision?.text ?? null) ||
    (lastDecision?.resource ?? null) !== (previous?.lastDecision?.resource ?? null) ||
    (lastDecision?.dryRun ?? false) !== (previous?.lastDecision?.dryRun ?? false);
  const changed = limitsChanged || decisionChanged || !sameEvents(before, events);

  const state: GuardState = {
    structure: structure.name,
    structureType: structure.type,
    version: previous?.version ?? 0,
    limits,
    events,
    lastDecision,
    dryRun: previous?.dryRun ?? false,
  };
  return { state, changed, newEvents, requests, decisions, skips, dryRun };
}

/** A number as an operator reads it: at most two decimals (52.032000000000004 → 52.03). */
function shown(x: number | null): string {
  return x === null ? '-' : String(Math.round(x * 100) / 100);
}
