/**
 * The Scaler's planning (pure): scaling requests in, new host states, one
 * order per changed container and rejections with reasons out.
 *
 * 1. Drop requests older than REQUEST_TIMEOUT; keep one per (structure,
 *    resource, field, pairStructure): the higher priority, else the newest.
 * 2. Apply `current` scale-downs (and pair swaps) first, then `max`
 *    scale-downs, `max` scale-ups, `current` scale-ups; ties by priority.
 * 3. Clamp into [min, max]; a scale-up takes only what the host has free
 *    (partial fulfilment); memory never goes below usage + MEM_SAFETY_MARGIN_MIB;
 *    a change that ends at 0 is dropped with a reason.
 * 4. Application requests are spread over the application's containers in
 *    slices of APP_SLICE; pair requests apply whole or not at all.
 */
import type { HostState } from '../../contracts/host.ts';
import type { ScaleOrder } from '../../contracts/order.ts';
import type { Reason } from '../../contracts/reason.ts';
import type { ScaleRequest } from '../../contracts/request.ts';
import type { ScalerConfig } from '../../contracts/service-config.ts';
import type { Application, Container, ResourceSpec } from '../../contracts/structure.ts';
import type { Resource } from '../../contracts/units.ts';
import { cloneHost, hostRoom, hostTotal, moveAllocation } from './capacity.ts';
import { buildOrder, orderLimits } from './orders.ts';

/** Usage per container and resource (null = no data), for memory safety and slice ranking. */
export type UsageByContainer = Record<string, Partial<Record<Resource, number | null>>>;

export interface PlanInput {
  /** Current state of every host the requests touch. */
  hosts: readonly HostState[];
  requests: readonly ScaleRequest[];
  /** Applications named by application requests. */
  applications?: Readonly<Record<string, Application>>;
  usage?: UsageByContainer;
  config: Pick<ScalerConfig, 'REQUEST_TIMEOUT' | 'ORDER_TTL' | 'MEM_SAFETY_MARGIN_MIB' | 'APP_SLICE'>;
  now: number;
  /** Re-planning container-level requests already filtered once: skip de-duplication. */
  skipDedupe?: boolean;
}

export interface Rejection {
  id: string;
  reason: string;
}

export interface Plan {
  /** Hosts whose state changed, `version` bumped: commit each on the input version. */
  hosts: HostState[];
  /** One order per container whose limits changed. */
  orders: ScaleOrder[];
  /** Ids of requests that changed something (possibly partially). */
  accepted: string[];
  rejected: Rejection[];
  /** Notes on requests that were trimmed or partly met. */
  notes: Rejection[];
  /**
   * Container-level requests behind each changed host's changes (application
   * requests resolved to the slices each container got): re-plan a host from
   * fresh state with these when its commit loses a race.
   */
  requestsByHost: Record<string, ScaleRequest[]>;
}

/** Lowest value a limit can be ordered at (core/contracts/order.ts). */
const LIMIT_FLOOR: Record<Resource, number> = { cpu: 1, mem: 4, disk_read: 1, disk_write: 1, net: 1 };

const DEFAULT_SLICE = 5;

interface Ctx {
  hosts: Map<string, HostState>;
  where: Map<string, string>;
  input: PlanInput;
  reasons: Map<string, Reason[]>;
  /** Containers changed per host. */
  touched: Map<string, Set<string>>;
  accepted: Set<string>;
  rejected: Rejection[];
  notes: Rejection[];
  requestsByHost: Map<string, ScaleRequest[]>;
  /** Highest usage seen per `container|resource` in live container requests. */
  seenUsage: Map<string, number>;
}

export function plan(input: PlanInput): Plan {
  const ctx: Ctx = {
    hosts: new Map(),
    where: new Map(),
    input,
    reasons: new Map(),
    touched: new Map(),
    accepted: new Set(),
    rejected: [],
    notes: [],
    requestsByHost: new Map(),
    seenUsage: new Map(),
  };
  for (const h of input.hosts) {
    ctx.hosts.set(h.name, cloneHost(h));
    for (const name of Object.keys(h.containers)) ctx.where.set(name, h.name);
  }
  const live = filterRequests(input, ctx.rejected);
  for (const r of input.requests) {
    if (
      r.usage === null ||
      r.structureType !== 'container' ||
      input.now - r.timestamp > input.config.REQUEST_TIMEOUT * 1000
    )
      continue;
    const key = `${r.structure}|${r.resource}`;
    ctx.seenUsage.set(key, Math.max(r.usage, ctx.seenUsage.get(key) ?? 0));
  }
  for (const req of orderRequests(live)) applyRequest(ctx, req);
  return finish(ctx);
}

/** Drop expired requests and duplicates (same structure, resource, field and pair). */
export function filterRequests(input: PlanInput, rejected: Rejection[]): ScaleRequest[] {
  const maxAgeMs = input.config.REQUEST_TIMEOUT * 1000;
  const kept = new Map<string, ScaleRequest>();
  const out: ScaleRequest[] = [];
  for (const r of input.requests) {
    if (input.now - r.timestamp > maxAgeMs) {
      rejected.push({
        id: r.id,
        reason: `expired: older than REQUEST_TIMEOUT ${input.config.REQUEST_TIMEOUT} s`,
      });
      continue;
    }
    if (input.skipDedupe === true) {
      out.push(r);
      continue;
    }
    const key = `${r.structure}|${r.resource}|${r.field}|${r.pairStructure ?? ''}`;
    const prev = kept.get(key);
    if (prev === undefined) {
      kept.set(key, r);
      continue;
    }
    const wins =
      r.priority > prev.priority || (r.priority === prev.priority && r.timestamp >= prev.timestamp);
    const [winner, loser] = wins ? [r, prev] : [prev, r];
    kept.set(key, winner);
    rejected.push({ id: loser.id, reason: `superseded by ${winner.id}` });
  }
  return input.skipDedupe === true ? out : [...kept.values()];
}

/** current downs (and swaps), max downs, max ups, current ups; higher priority first within each. */
export function phaseOf(r: ScaleRequest): number {
  if (r.pairStructure !== null) return 0;
  if (r.field === 'current') return r.amount < 0 ? 0 : 3;
  return r.amount < 0 ? 1 : 2;
}

export function orderRequests(requests: readonly ScaleRequest[]): ScaleRequest[] {
  return requests
    .map((r, i) => ({ r, i }))
    .sort((a, b) => phaseOf(a.r) - phaseOf(b.r) || b.r.priority - a.r.priority || a.i - b.i)
    .map(({ r }) => r);
}

function reject(ctx: Ctx, r: ScaleRequest, reason: string): undefined {
  ctx.rejected.push({ id: r.id, reason });
}

function locate(ctx: Ctx, name: string): { host: HostState; container: Container } | null {
  const hostName = ctx.where.get(name);
  const host = hostName === undefined ? undefined : ctx.hosts.get(hostName);
  const container = host?.containers[name];
  return host === undefined || container === undefined ? null : { host, container };
}

function record(ctx: Ctx, container: string, req: ScaleRequest, text: string): undefined {
  const list = ctx.reasons.get(container) ?? [];
  list.push(...req.reasons, {
    source: 'planner',
    text,
    values: { request: req.id, resource: req.resource, field: req.field },
  });
  ctx.reasons.set(container, list);
  ctx.accepted.add(req.id);
  const host = ctx.where.get(container);
  if (host !== undefined) {
    const set = ctx.touched.get(host) ?? new Set<string>();
    set.add(container);
    ctx.touched.set(host, set);
  }
}

function noteRequest(ctx: Ctx, host: string, req: ScaleRequest): void {
  const reqs = ctx.requestsByHost.get(host) ?? [];
  reqs.push(req);
  ctx.requestsByHost.set(host, reqs);
}

/**
 * Usage of a container's resource as known to this plan: the highest of the
 * usage map's value and every live request's observation of that container
 * (the conservative choice for memory safety).
 */
function usageOf(ctx: Ctx, container: string, resource: Resource, req?: ScaleRequest): number | null {
  const known = [
    ctx.input.usage?.[container]?.[resource] ?? null,
    ctx.seenUsage.get(`${container}|${resource}`) ?? null,
  ];
  if (req !== undefined && req.structure === container) known.push(req.usage);
  const values = known.filter((v): v is number => v !== null);
  return values.length === 0 ? null : Math.max(...values);
}

/** Lowest `current` a scale-down may reach, and why. */
function floorOf(
  ctx: Ctx,
  container: string,
  resource: Resource,
  spec: ResourceSpec,
  req?: ScaleRequest,
): { floor: number; why: string } {
  let floor = Math.max(spec.min, LIMIT_FLOOR[resource]);
  let why = `min ${spec.min}`;
  if (resource === 'mem') {
    const usage = usageOf(ctx, container, resource, req);
    if (usage !== null) {
      const safe = Math.ceil(usage) + ctx.input.config.MEM_SAFETY_MARGIN_MIB;
      if (safe > floor) {
        floor = safe;
        why = `usage ${Math.ceil(usage)} + margin ${ctx.input.config.MEM_SAFETY_MARGIN_MIB} MiB`;
      }
    }
  }
  return { floor, why };
}

function applyRequest(ctx: Ctx, r: ScaleRequest): undefined {
  if (r.structureType === 'user')
    return reject(ctx, r, 'user requests are not planned; scale its applications');
  if (r.structureType === 'application') return applyApplication(ctx, r);
  if (r.pairStructure !== null) return applyPair(ctx, r);
  const at = locate(ctx, r.structure);
  if (at === null) return reject(ctx, r, `unknown container ${r.structure}`);
  const spec = at.container.resources[r.resource];
  if (spec === undefined) return reject(ctx, r, `${r.structure} has no ${r.resource}`);
  if (r.field === 'max') return applyMax(ctx, r, at.host, at.container, spec);
  const out = stepCurrent(ctx, at.host, at.container, r.resource, r.amount, r);
  if (typeof out === 'string') return reject(ctx, r, out);
  noteRequest(ctx, at.host.name, r);
  if (out.note !== null) ctx.notes.push({ id: r.id, reason: out.note });
  record(ctx, at.container.name, r, out.text);
}

/**
 * Move `current` by up to `amount` within bounds and host room; returns the
 * change made, or why nothing could be done.
 */
function stepCurrent(
  ctx: Ctx,
  host: HostState,
  container: Container,
  resource: Resource,
  amount: number,
  req?: ScaleRequest,
): { delta: number; text: string; note: string | null } | string {
  const spec = container.resources[resource];
  if (spec === undefined) return `${container.name} has no ${resource}`;
  const from = spec.current;
  if (amount > 0) {
    if (host.degraded) return `${host.name} is degraded (agent silent): no scale-ups`;
    const target = Math.min(Math.max(from + amount, spec.min), spec.max);
    const room = hostRoom(host, container, resource);
    if (room === null) return `${container.name} has no disk of ${host.name} bound for ${resource}`;
    const delta = Math.min(target - from, room);
    if (delta <= 0)
      return target <= from
        ? `${container.name}.${resource} is already at max ${spec.max}`
        : `${host.name} has no free ${resource}`;
    moveAllocation(host, container.name, resource, delta);
    const notes: string[] = [];
    if (target - from < amount) notes.push(`clamped to max ${spec.max}`);
    if (delta < target - from) notes.push(`partial: ${host.name} had ${room} free`);
    return {
      delta,
      text: `${resource} ${from} → ${from + delta}`,
      note: notes.length === 0 ? null : `${resource} +${delta} of +${amount}: ${notes.join(', ')}`,
    };
  }
  const { floor, why } = floorOf(ctx, container.name, resource, spec, req);
  // A current already below its floor is not lowered further (nor raised by a scale-down).
  const target = Math.max(from + amount, Math.min(floor, from));
  const delta = target - from;
  if (delta >= 0) return `${container.name}.${resource} cannot go below ${why} (at ${from})`;
  moveAllocation(host, container.name, resource, delta);
  return {
    delta,
    text: `${resource} ${from} → ${target}`,
    note: delta > amount ? `${resource} ${delta} of ${amount}: trimmed at ${why}` : null,
  };
}

function applyMax(
  ctx: Ctx,
  r: ScaleRequest,
  host: HostState,
  container: Container,
  spec: ResourceSpec,
): undefined {
  const from = spec.max;
  if (r.amount > 0) {
    // No total (no net capacity, no disk): nothing bounds the max but the request.
    const total = hostTotal(host, r.resource, container.disk?.name ?? null) ?? Number.POSITIVE_INFINITY;
    const to = Math.min(from + r.amount, total);
    if (to <= from)
      return reject(ctx, r, `${r.structure}.${r.resource} max ${from} is already the host's total`);
    spec.max = to;
    noteRequest(ctx, host.name, r);
    return record(ctx, container.name, r, `${r.resource} max ${from} → ${to}`);
  }
  const { floor, why } = floorOf(ctx, container.name, r.resource, spec, r);
  const to = Math.max(from + r.amount, spec.min, Math.min(floor, spec.current));
  if (to >= from) return reject(ctx, r, `${r.structure}.${r.resource} max cannot go below ${why}`);
  if (spec.current > to) moveAllocation(host, container.name, r.resource, to - spec.current);
  spec.max = to;
  noteRequest(ctx, host.name, r);
  if (to > from + r.amount)
    ctx.notes.push({ id: r.id, reason: `max ${to - from} of ${r.amount}: trimmed at ${why}` });
  record(ctx, container.name, r, `${r.resource} max ${from} → ${to}`);
}

/** A swap: the donor (pairStructure) gives `amount` to the receiver (structure), whole or not at all. */
function applyPair(ctx: Ctx, r: ScaleRequest): undefined {
  const donorName = r.pairStructure as string;
  const recv = locate(ctx, r.structure);
  const donor = locate(ctx, donorName);
  if (recv === null) return reject(ctx, r, `unknown container ${r.structure}`);
  if (donor === null) return reject(ctx, r, `unknown container ${donorName}`);
  if (recv.host.name !== donor.host.name)
    return reject(
      ctx,
      r,
      `pair across hosts (${recv.host.name}, ${donor.host.name}) cannot be applied atomically`,
    );
  if (r.field !== 'current' || r.amount <= 0)
    return reject(ctx, r, 'a pair request moves a positive amount of current');
  const scratch = cloneHost(recv.host);
  const d = scratch.containers[donorName] as Container;
  const give = stepCurrent(ctx, scratch, d, r.resource, -r.amount);
  if (typeof give === 'string') return reject(ctx, r, `donor: ${give}`);
  if (give.delta !== -r.amount) return reject(ctx, r, `donor can give only ${-give.delta} of ${r.amount}`);
  const rc = scratch.containers[r.structure] as Container;
  const take = stepCurrent(ctx, scratch, rc, r.resource, r.amount, r);
  if (typeof take === 'string') return reject(ctx, r, `receiver: ${take}`);
  if (take.delta !== r.amount) return reject(ctx, r, `receiver can take only ${take.delta} of ${r.amount}`);
  ctx.hosts.set(scratch.name, scratch);
  noteRequest(ctx, scratch.name, r);
  record(ctx, donorName, r, `gives ${r.amount} ${r.resource} to ${r.structure}`);
  record(ctx, r.structure, r, `takes ${r.amount} ${r.resource} from ${donorName}`);
}

/**
 * Spread an application request in slices: each scale-up slice to the
 * container with the least headroom (below min first, then those short of
 * their usage), each scale-down slice from the one with the most.
 */
function applyApplication(ctx: Ctx, r: ScaleRequest): undefined {
  const app = ctx.input.applications?.[r.structure];
  if (app === undefined) return reject(ctx, r, `unknown application ${r.structure}`);
  if (r.field !== 'current') return reject(ctx, r, 'application max requests are not planned here');
  const members = app.containers
    .map((name) => locate(ctx, name))
    .filter(
      (m): m is { host: HostState; container: Container } => m?.container.resources[r.resource] !== undefined,
    );
  if (members.length === 0) return reject(ctx, r, `${r.structure} has no container with ${r.resource}`);
  const slice = ctx.input.config.APP_SLICE[r.resource] ?? DEFAULT_SLICE;
  const up = r.amount > 0;
  const given = new Map<string, number>();
  let remaining = Math.abs(r.amount);
  const rank = (m: { container: Container }): [number, number] => {
    const spec = m.container.resources[r.resource] as ResourceSpec;
    const usage = usageOf(ctx, m.container.name, r.resource);
    if (spec.current < spec.min) return [1, spec.min === 0 ? 0 : spec.current / spec.min];
    if (usage !== null && spec.current < usage) return [2, spec.current - spec.min];
    return [3, usage === null ? spec.current - spec.min : spec.current - usage];
  };
  const before = (a: [number, number], b: [number, number]) => a[0] - b[0] || a[1] - b[1];
  while (remaining > 0) {
    const candidates = members.filter((m) => {
      const spec = m.container.resources[r.resource] as ResourceSpec;
      if (up)
        return (
          !m.host.degraded && spec.current < spec.max && (hostRoom(m.host, m.container, r.resource) ?? 0) > 0
        );
      return spec.current > floorOf(ctx, m.container.name, r.resource, spec).floor;
    });
    if (candidates.length === 0) break;
    candidates.sort((a, b) => (up ? before(rank(a), rank(b)) : before(rank(b), rank(a))));
    const best = candidates[0] as { host: HostState; container: Container };
    const step = stepCurrent(
      ctx,
      best.host,
      best.container,
      r.resource,
      up ? Math.min(slice, remaining) : -Math.min(slice, remaining),
    );
    if (typeof step === 'string') break; // filtered above; defensive
    remaining -= Math.abs(step.delta);
    given.set(best.container.name, (given.get(best.container.name) ?? 0) + step.delta);
  }
  if (given.size === 0) return reject(ctx, r, `no container of ${r.structure} could take any ${r.resource}`);
  const achieved = Math.abs(r.amount) - remaining;
  if (remaining > 0)
    ctx.notes.push({ id: r.id, reason: `application got ${achieved} of ${Math.abs(r.amount)}` });
  for (const [name, delta] of given) {
    const m = members.find((x) => x.container.name === name) as { host: HostState; container: Container };
    noteRequest(ctx, m.host.name, {
      ...r,
      id: `${r.id}/${name}`,
      structure: name,
      structureType: 'container',
      amount: delta,
      usage: null,
    });
    record(ctx, name, r, `${r.resource} ${delta > 0 ? '+' : ''}${delta} as a share of ${r.structure}`);
  }
}

/** Equal objects of primitive values (same keys, same values). */
function sameFlat(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean {
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    n += 1;
  }
  for (const _ in b) n -= 1;
  return n === 0;
}

function sameResources(a: Container['resources'], b: Container['resources']): boolean {
  let n = 0;
  for (const k in a) {
    const x = a[k as Resource];
    const y = b[k as Resource];
    if (x === undefined || y === undefined ? x !== y : !sameFlat(x, y)) return false;
    n += 1;
  }
  for (const _ in b) n -= 1;
  return n === 0;
}

function finish(ctx: Ctx): Plan {
  const hosts: HostState[] = [];
  const orders: ScaleOrder[] = [];
  for (const original of ctx.input.hosts) {
    const next = ctx.hosts.get(original.name) as HostState;
    let changed = false;
    for (const name of ctx.touched.get(original.name) ?? []) {
      const c = next.containers[name];
      const before = original.containers[name];
      if (c === undefined || before === undefined) continue;
      const limitsChanged = !sameFlat(
        orderLimits(before, original.cpuPlacement),
        orderLimits(c, next.cpuPlacement),
      );
      const specChanged = !sameResources(before.resources, c.resources);
      if (specChanged) changed = true;
      if (!limitsChanged) continue;
      changed = true;
      c.desiredVersion = before.desiredVersion + 1;
      c.desiredAt = ctx.input.now;
      orders.push(
        buildOrder(next, c, ctx.input.now, ctx.input.config.ORDER_TTL, ctx.reasons.get(name) ?? []),
      );
    }
    if (!changed) continue;
    next.version = original.version + 1;
    hosts.push(next);
  }
  const changedHosts = new Set(hosts.map((h) => h.name));
  const requestsByHost: Record<string, ScaleRequest[]> = {};
  for (const [h, reqs] of ctx.requestsByHost) if (changedHosts.has(h)) requestsByHost[h] = reqs;
  return {
    hosts,
    orders,
    accepted: [...ctx.accepted],
    rejected: ctx.rejected,
    notes: ctx.notes,
    requestsByHost,
  };
}
