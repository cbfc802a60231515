/**
 * Which shard of the control tick decides which host (and which application):
 * rendezvous (highest-random-weight) hashing of the name over the shard ids,
 * so every name lands in exactly one shard, the same one on every call, and
 * growing N by one moves only the names the new shard wins (≈ 1/(N+1) of
 * them). How many shards a fleet needs, and when a new count takes over
 * (generations, windowOwner). Pure: no clock, no I/O.
 */
import type { ShardGeneration, ShardRecord } from '../contracts/shards.ts';

/** FNV-1a over UTF-16 code units, 32 bits. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's finalizer: every input bit moves every output bit. */
function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The weight of `name` for shard `id` (rendezvous: the highest weight wins). */
function weight(nameHash: number, id: number): number {
  return fmix32((nameHash ^ fmix32(Math.imul(id + 1, 0x9e3779b9))) >>> 0);
}

/** The shard (0 … shards − 1) that owns `name`. */
export function shardOf(name: string, shards: number): number {
  if (!Number.isInteger(shards) || shards < 1)
    throw new RangeError(`shards must be a positive integer, got ${shards}`);
  if (shards === 1) return 0;
  const h = fnv1a(name);
  let best = 0;
  let bestW = -1;
  for (let id = 0; id < shards; id++) {
    const w = weight(h, id);
    if (w > bestW) {
      best = id;
      bestW = w;
    }
  }
  return best;
}

/** The names of `shard` among `names` (order kept). */
export function namesOfShard(names: readonly string[], shard: number, shards: number): string[] {
  if (shards === 1) return [...names];
  return names.filter((n) => shardOf(n, shards) === shard);
}

export interface ShardSizing {
  /** Target guarded containers per shard. */
  SHARD_CONTAINERS: number;
  /** Most shards. */
  SHARDS_MAX: number;
}

/** Shrink only once the fleet is this far under the smaller count's capacity (no flapping at a boundary). */
const SHRINK_BELOW = 0.9;

/**
 * How many shards `containers` guarded containers need: ceil(containers / target), within
 * [1, SHARDS_MAX]; a smaller count is taken only when the fleet is 10 % under its capacity.
 */
export function desiredShards(containers: number, current: number, sizing: ShardSizing): number {
  const clamp = (n: number) => Math.min(sizing.SHARDS_MAX, Math.max(1, n));
  const raw = clamp(Math.ceil(Math.max(0, containers) / sizing.SHARD_CONTAINERS));
  if (raw >= current || current > sizing.SHARDS_MAX) return raw;
  return containers <= SHRINK_BELOW * raw * sizing.SHARD_CONTAINERS ? raw : current;
}

/**
 * Whether the tick of window `at` of generation `gen` may act:
 * 'act' — its generation owns the window; 'retired' — a newer generation owns it and every later
 * window (the chain ends); 'before' — its generation's switch is still to come (or is not yet
 * recorded): the window belongs to another generation, the chain waits for its first window.
 */
export function windowOwner(record: ShardRecord, gen: number, at: number): 'act' | 'retired' | 'before' {
  const { current, previous } = record;
  if (gen === current.gen) return at >= current.from ? 'act' : 'before';
  if (gen > current.gen) return 'before';
  if (at >= current.from) return 'retired';
  if (previous !== null && gen === previous.gen) return at >= previous.from ? 'act' : 'before';
  return 'retired';
}

/** The generation that owns window `at` (null: none, before the oldest known switch). */
export function generationAt(record: ShardRecord, at: number): ShardGeneration | null {
  if (at >= record.current.from) return record.current;
  if (record.previous !== null && at >= record.previous.from) return record.previous;
  return null;
}

/**
 * The record that switches to `shards` shards at the first window boundary at least `leadMs` after
 * `now` (every tick of a window from then on starts after the record is written); null when the
 * count is unchanged or the last switch has not taken effect yet (one switch at a time).
 */
export function planSwitch(
  record: ShardRecord,
  shards: number,
  now: number,
  windowMs: number,
  leadMs: number,
): ShardRecord | null {
  if (shards === record.current.shards || record.current.from > now) return null;
  const from = Math.ceil((now + leadMs) / windowMs) * windowMs;
  return {
    current: { gen: record.current.gen + 1, shards, from },
    previous: record.current,
    version: record.version + 1,
  };
}

/** A shard chain whose last tick is older than this many windows is stale (its lease has expired too). */
export const STALE_SHARD_WINDOWS = 3;

/**
 * The shards of `gen` whose last tick is more than STALE_SHARD_WINDOWS windows old at `now`
 * (never ticked: since the generation's first window), while the generation owns the windows
 * (from `gen.from` until `until`, the next generation's switch).
 */
export function staleShards(
  gen: ShardGeneration,
  leases: readonly { shard: number; lastAt: number | null }[],
  now: number,
  windowMs: number,
  until = Number.POSITIVE_INFINITY,
): { gen: number; shard: number; lastAt: number | null; ageS: number }[] {
  const limit = STALE_SHARD_WINDOWS * windowMs;
  if (now >= until || now - gen.from <= limit) return [];
  return leases
    .filter((l) => now - (l.lastAt ?? gen.from) > limit)
    .map((l) => ({
      gen: gen.gen,
      shard: l.shard,
      lastAt: l.lastAt,
      ageS: (now - (l.lastAt ?? gen.from)) / 1000,
    }));
}
