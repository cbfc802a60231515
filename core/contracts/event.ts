import { z } from 'zod';
import { Name, RuleName } from './names.ts';
import { ScaleDirection } from './rule.ts';
import { EpochMillis, Resource } from './units.ts';

/** One firing of an event rule for a structure's resource. Expires after EVENT_TIMEOUT. */
export const ScaleEvent = z.strictObject({
  structure: Name,
  resource: Resource,
  direction: ScaleDirection,
  rule: RuleName,
  timestamp: EpochMillis,
});
export type ScaleEvent = z.infer<typeof ScaleEvent>;
