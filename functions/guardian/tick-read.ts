/**
 * The read step of a Guardian tick: the hosts (always: container currents live
 * there) and, at application level, the applications, with the guard states
 * of the structures to guard, merged into the invocation's lean cache. A full
 * read lists the hosts and reads whole host partitions (strongly consistent);
 * the others read the known hosts' states only (eventually consistent) and the
 * guard states of containers not seen before.
 */
import type { ChainCarry } from '../../core/contracts/carry.ts';
import type { GuardState } from '../../core/contracts/guard-state.ts';
import type { HostState } from '../../core/contracts/host.ts';
import type { GuardianConfig } from '../../core/contracts/service-config.ts';
import type { Container } from '../../core/contracts/structure.ts';
import type { Resource } from '../../core/contracts/units.ts';
import { mapLimit } from '../../core/map-limit.ts';
import { namesOfShard, shardOf } from '../../core/policy/shards.ts';
import {
  type GuardianState,
  type GuardRead,
  type GuardRef,
  guardId,
  type Problem,
} from '../../core/ports/guardian-state.ts';
import { overlayCarries } from './carry.ts';
import { applicationView, containerView, type Target } from './tick-decide.ts';

/** One structure's guard state as this invocation knows it. */
export interface CachedGuard {
  ref: GuardRef;
  /** Latest decided state (its `version` is `stored ?? 0`); null: nothing stored or decided yet. */
  state: GuardState | null;
  /** Version of the stored item as last read or written by this invocation; null: no item. */
  stored: number | null;
  /** Decided state differs from the stored one (events, last decision): written at the checkpoint. */
  dirty: boolean;
  /** When it last became dirty (the rolling checkpoint writes the oldest first). */
  dirtySince?: number;
  /**
   * The usage this invocation decided on at its last tick (`at`) for this structure: the next tick's
   * previous window (decide's previousUsage: an onset or a level). Memory only, never stored (it
   * changes every tick; storing it would make every tick a guard-state write).
   */
  lastUsage?: { at: number; usage: Partial<Record<Resource, number | null>> };
}

/** Lean state of one leased invocation. */
export interface TickCache {
  /** Ticks since the last full read (whole partitions), counted from its host listing's time. */
  sinceFullRead: number;
  hostNames: string[];
  /** By guardId of the structure. */
  guards: Map<string, CachedGuard>;
}

/**
 * The host listing one process shares between the chains it ticks (docs/shards.md): a full read
 * takes a listing younger than `maxAgeMs` instead of listing the fleet again, and counts its age
 * towards the next full read, so a host added is still ticked within a full-read period.
 */
export interface HostListing {
  maxAgeMs: number;
  held: { names: string[]; at: number } | null;
}

/** Which shard a tick decides: the hosts (and applications, by name) `shardOf` puts in `index`. */
export interface TickShard {
  index: number;
  count: number;
}

/** Carried between ticks of one invocation: the last good config and the lean cache. */
export interface TickMemory {
  config: GuardianConfig;
  cache?: TickCache;
  /** Carries to lay over the next full read (a chain tick that did not resume; carry.ts), then dropped. */
  carried?: ChainCarry[];
}

export interface TickRead {
  targets: Target<CachedGuard>[];
  hostStates: HostState[];
  /** Entries no longer guarded whose decided state must still be written. */
  writeLater: CachedGuard[];
  fullRead: boolean;
  adopted: number;
  /** Entries that took carried events (carry.ts). */
  carried: number;
  badState: number;
  problems: Problem[];
}

interface ReadContext {
  state: GuardianState;
  readConcurrency: number;
  config: GuardianConfig;
  cache: TickCache;
  out: TickRead;
  containers: Map<string, { container: Container; host: string }>;
  /** Guard states read this tick (full read, or first sight of a container), by guardId; null: none. */
  guardReads: Map<string, GuardRead | null>;
  shard: TickShard | undefined;
  listing: HostListing | undefined;
  /** A shared listing older than this is not taken (the listing's bound and the full-read period's). */
  listingMaxAgeMs: number;
  now: number;
}

export async function readTick(
  state: GuardianState,
  memory: TickMemory,
  config: GuardianConfig,
  opts: {
    readConcurrency: number;
    fullReadEveryTicks: number;
    shard?: TickShard | undefined;
    now: number;
    listing?: HostListing | undefined;
  },
): Promise<TickRead> {
  const fullRead = memory.cache === undefined || memory.cache.sinceFullRead + 1 >= opts.fullReadEveryTicks;
  const cache: TickCache = memory.cache ?? { sinceFullRead: 0, hostNames: [], guards: new Map() };
  memory.cache = cache;
  const out: TickRead = {
    targets: [],
    hostStates: [],
    writeLater: [],
    fullRead,
    adopted: 0,
    carried: 0,
    badState: 0,
    problems: [],
  };
  const ctx: ReadContext = {
    state,
    readConcurrency: opts.readConcurrency,
    config,
    cache,
    out,
    containers: new Map(),
    guardReads: new Map(),
    shard: opts.shard !== undefined && opts.shard.count > 1 ? opts.shard : undefined,
    listing: opts.listing,
    listingMaxAgeMs: Math.min(
      opts.listing?.maxAgeMs ?? 0,
      opts.fullReadEveryTicks * config.WINDOW_TIMELAPSE * 1000,
    ),
    now: opts.now,
  };
  if (fullRead) await readWholeHosts(ctx);
  else await readHostStates(ctx);
  if (config.STRUCTURE_GUARDED === 'container') containerTargets(ctx);
  else await applicationTargets(ctx);
  if (memory.carried !== undefined) {
    if (fullRead) out.carried = overlayCarries(cache, memory.carried, opts.now);
    delete memory.carried;
  }
  return out;
}

async function readWholeHosts(ctx: ReadContext): Promise<void> {
  const { cache, state } = ctx;
  const { names: listed, ageMs } = await listedHosts(ctx);
  cache.sinceFullRead = Math.floor(ageMs / (ctx.config.WINDOW_TIMELAPSE * 1000));
  cache.hostNames = ctx.shard === undefined ? listed : namesOfShard(listed, ctx.shard.index, ctx.shard.count);
  // A shard tick mostly runs where its shard's previous tick did not (docs/shards.md): its full
  // reads are eventually consistent, half the units; the guard writes stay conditional on version.
  const hosts = await mapLimit(cache.hostNames, ctx.readConcurrency, (h) =>
    ctx.shard === undefined ? state.readHost(h) : state.readHost(h, { consistent: false }),
  );
  for (const [i, h] of hosts.entries()) {
    ctx.out.problems.push(...h.problems);
    const hostName = cache.hostNames[i] as string;
    for (const [c, g] of h.guards) ctx.guardReads.set(guardId({ host: hostName, structure: c }), g);
    if (h.host === null) continue;
    ctx.out.hostStates.push(h.host);
    for (const c of Object.values(h.host.containers))
      ctx.containers.set(c.name, { container: c, host: hostName });
  }
}

/** The process's listing while it is young enough, else a new one (kept for the process's other chains). */
async function listedHosts(ctx: ReadContext): Promise<{ names: string[]; ageMs: number }> {
  const { listing, now } = ctx;
  const held = listing?.held;
  if (held != null && now >= held.at && now - held.at < ctx.listingMaxAgeMs)
    return { names: held.names, ageMs: now - held.at };
  const names = await ctx.state.listHosts();
  if (listing !== undefined) listing.held = { names, at: now };
  return { names, ageMs: 0 };
}

async function readHostStates(ctx: ReadContext): Promise<void> {
  const { cache } = ctx;
  cache.sinceFullRead += 1;
  const states = await ctx.state.readHostStates(cache.hostNames);
  for (const hostName of cache.hostNames) {
    const parsed = states.get(hostName);
    if (parsed === undefined) continue; // host removed: gone from the next listing
    if ('problem' in parsed) {
      ctx.out.problems.push(parsed.problem);
      continue;
    }
    ctx.out.hostStates.push(parsed.host);
    for (const c of Object.values(parsed.host.containers))
      ctx.containers.set(c.name, { container: c, host: hostName });
  }
  if (ctx.config.STRUCTURE_GUARDED === 'container') {
    // Containers first seen this tick: their guard state may exist already (created by the API).
    const unseen: GuardRef[] = [...ctx.containers.values()]
      .filter(({ container }) => container.guard)
      .map(({ container, host }) => ({ host, structure: container.name }))
      .filter((ref) => !cache.guards.has(guardId(ref)));
    for (const [id, read] of await ctx.state.readGuards(unseen)) ctx.guardReads.set(id, read);
  }
}

/** The entry of `ref` in the cache (created empty). */
function entryFor(cache: TickCache, ref: GuardRef): CachedGuard {
  const id = guardId(ref);
  let entry = cache.guards.get(id);
  if (entry === undefined) {
    entry = { ref, state: null, stored: null, dirty: false };
    cache.guards.set(id, entry);
  }
  return entry;
}

/** Take the stored state when it is not the one this invocation wrote (someone else changed it). */
function adopt(out: TickRead, entry: CachedGuard, read: { state: GuardState } | undefined): void {
  const stored = read?.state.version ?? null;
  if (entry.stored === stored && (entry.state !== null || stored === null)) return; // ours: memory is newer
  if (entry.state !== null || entry.stored !== null) out.adopted += 1;
  entry.state = read?.state ?? null;
  entry.stored = stored;
  entry.dirty = false;
}

function containerTargets(ctx: ReadContext): void {
  const { cache, out } = ctx;
  const live = new Set<string>();
  for (const { container, host } of ctx.containers.values()) {
    if (!container.guard) continue;
    const ref = { host, structure: container.name };
    const id = guardId(ref);
    const read = ctx.guardReads.get(id);
    if (read != null && 'problem' in read) {
      out.problems.push(read.problem);
      out.badState += 1;
      cache.guards.delete(id);
      continue;
    }
    const entry = entryFor(cache, ref);
    if (out.fullRead || read !== undefined) adopt(out, entry, read ?? undefined);
    live.add(id);
    out.targets.push({ view: containerView(container), entry, members: [container.name] });
  }
  // Containers no longer guarded (or gone): forget them, persisting what they had.
  for (const [id, entry] of cache.guards) {
    if (live.has(id) || entry.ref.host === null) continue;
    if (entry.dirty) out.writeLater.push(entry);
    cache.guards.delete(id);
  }
}

async function applicationTargets(ctx: ReadContext): Promise<void> {
  const { state, out } = ctx;
  const listed = await state.listApplications();
  const { shard } = ctx;
  // Each application is decided by one shard, its owner (the shard of its name).
  const appNames =
    shard === undefined ? listed : listed.filter((a) => shardOf(a, shard.count) === shard.index);
  const apps = await mapLimit(appNames, ctx.readConcurrency, (a) => state.readApplication(a));
  if (shard !== undefined) await readOtherShardsMembers(ctx, apps);
  const containers = new Map([...ctx.containers].map(([name, c]) => [name, c.container]));
  for (const a of apps) {
    out.problems.push(...a.problems);
    const app = a.app;
    if (app === null || !app.guard || app.state !== 'running') continue;
    if (a.guard !== null && 'problem' in a.guard) {
      out.problems.push(a.guard.problem);
      out.badState += 1;
      continue;
    }
    const { view, members } = applicationView(app, containers);
    // The application's guard state is read every tick: its version is always checked.
    const entry = entryFor(ctx.cache, { host: null, structure: app.name });
    adopt(out, entry, a.guard ?? undefined);
    out.targets.push({ view, entry, members, application: app });
  }
}

/**
 * An owner shard's applications whose members live on other shards' hosts: those hosts' states
 * (eventually consistent, as a lean tick's) give the members' currents. Only their members are
 * taken; the hosts stay the other shards' (not in this tick's host states).
 */
async function readOtherShardsMembers(
  ctx: ReadContext,
  apps: readonly { app: { containers: string[] } | null }[],
) {
  const missing = apps.flatMap((a) => a.app?.containers ?? []).filter((c) => !ctx.containers.has(c));
  if (missing.length === 0) return;
  if (ctx.state.locateContainers === undefined)
    throw new Error('a sharded application tick needs GuardianState.locateContainers');
  const located = await ctx.state.locateContainers(missing);
  const hosts = [...new Set(located.values())];
  const states = await ctx.state.readHostStates(hosts);
  for (const [container, host] of located) {
    const parsed = states.get(host);
    if (parsed === undefined) continue;
    if ('problem' in parsed) {
      ctx.out.problems.push(parsed.problem);
      continue;
    }
    const c = parsed.host.containers[container];
    if (c !== undefined) ctx.containers.set(c.name, { container: c, host });
  }
}
