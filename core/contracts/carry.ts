import { z } from 'zod';
import { Name, RuleName } from './names.ts';
import { ScaleDirection } from './rule.ts';
import { EpochMillis, Resource } from './units.ts';

/**
 * What a chain's tick hands to its next tick when that tick runs in another
 * execution environment (docs/shards.md, "Carry"): the live events of the
 * structures whose stored guard state lacks them. One item per chain
 * (`CARRY/<lease name>`), deflated; the full read of a tick that does not
 * resume reads the guard states and lays these events over them, each only
 * when the stored version is still the one the carry names.
 */

/** One live event: rule, resource, direction, timestamp (its structure is the guard's). */
export const CarriedEvent = z.tuple([RuleName, Resource, ScaleDirection, EpochMillis]);
export type CarriedEvent = z.infer<typeof CarriedEvent>;

/** One structure: host ('' for an application), name, stored guard version, its live events. */
export const CarriedGuard = z.tuple([
  z.string().max(256),
  Name,
  z.number().int().nonnegative(),
  z.array(CarriedEvent).min(1).max(1_000),
]);
export type CarriedGuard = z.infer<typeof CarriedGuard>;

export const ChainCarry = z.strictObject({
  v: z.literal(1),
  /** The scheduled time of the tick that wrote it. */
  at: EpochMillis,
  guards: z.array(CarriedGuard).max(200_000),
});
export type ChainCarry = z.infer<typeof ChainCarry>;

/**
 * A carry item's deflated size must stay under DynamoDB's 400 KB item limit (key and `at` beside
 * it): a carry over this keeps the structures with the most events and says how many it dropped.
 */
export const CARRY_MAX_BYTES = 350_000;
