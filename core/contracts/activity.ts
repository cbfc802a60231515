import { z } from 'zod';
import { Name } from './names.ts';
import { Reason } from './reason.ts';
import { EpochMillis, Resource } from './units.ts';

/**
 * One line of a structure's recent activity (item LOG#<structure>): what
 * happened, when, and why. Feeds the dashboard's markers and `sc status`.
 */
export const Activity = z.strictObject({
  structure: Name,
  at: EpochMillis,
  kind: z.enum(['event', 'request', 'order', 'report', 'decision', 'finding']),
  resource: Resource.nullable().default(null),
  text: z.string(),
  reasons: z.array(Reason).default([]),
  data: z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()])).default({}),
});
export type Activity = z.infer<typeof Activity>;
export type ActivityInput = z.input<typeof Activity>;
