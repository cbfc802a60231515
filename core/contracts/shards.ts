import { z } from 'zod';

/**
 * The control tick's shard record (one item): which generation of the shard
 * count owns which windows. Generation `current` owns every window from
 * `current.from` on; `previous` owns the windows from `previous.from` up to
 * `current.from`. A shard tick carries its generation, so a tick of an old
 * generation refuses a window the new one owns, and a tick of the new one
 * refuses a window before its switch (core/policy/shards.ts windowOwner).
 */
export const ShardGeneration = z.strictObject({
  gen: z.number().int().nonnegative(),
  shards: z.number().int().min(1).max(256),
  /** First window (its tick's scheduled time, epoch ms) this generation decides. */
  from: z.number().int().nonnegative(),
});
export type ShardGeneration = z.infer<typeof ShardGeneration>;

export const ShardRecord = z.strictObject({
  current: ShardGeneration,
  previous: ShardGeneration.nullable(),
  /** Bumped on every write (conditional: two watchdogs never both switch). */
  version: z.number().int().nonnegative(),
});
export type ShardRecord = z.infer<typeof ShardRecord>;

/** What a fleet without a shard record runs: generation 0, one shard, since always. */
export const UNSHARDED: ShardRecord = Object.freeze({
  current: Object.freeze({ gen: 0, shards: 1, from: 0 }),
  previous: null,
  version: 0,
});

/** Which shard of which generation a clock message ticks (absent: generation 0, shard 0). */
export const ShardRef = z.strictObject({
  gen: z.number().int().nonnegative(),
  shard: z.number().int().nonnegative().max(255),
});
export type ShardRef = z.infer<typeof ShardRef>;
