import { z } from 'zod';
import { ScaleEvent } from './event.ts';
import { ResourceLimits } from './limits.ts';
import { Name } from './names.ts';
import { Reason } from './reason.ts';
import { EpochMillis, Resource } from './units.ts';

/** The last decision the Guardian took for a structure, kept for `sc status` and the dashboard. */
export const Decision = z.strictObject({
  at: EpochMillis,
  resource: Resource,
  /** e.g. "CpuRescaleUp +75", "stable", "skipped: no data" */
  text: z.string(),
  reasons: z.array(Reason).default([]),
  dryRun: z.boolean().default(false),
});
export type Decision = z.infer<typeof Decision>;

/**
 * Guardian-owned state of one structure (item GUARD#<container> or APP#<app>/GUARD):
 * its limits per resource, its live events, its last decision. Versioned.
 */
export const GuardState = z.strictObject({
  structure: Name,
  structureType: z.enum(['container', 'application']),
  version: z.number().int().nonnegative(),
  limits: z.partialRecord(Resource, ResourceLimits),
  events: z.array(ScaleEvent).default([]),
  lastDecision: Decision.nullable().default(null),
  /** Per-structure dry run: decide and record, request nothing (the global switch is GuardianConfig.DRY_RUN). */
  dryRun: z.boolean().default(false),
});
export type GuardState = z.infer<typeof GuardState>;
