import { z } from 'zod';
import { ContainerName } from './names.ts';
import { Resource } from './units.ts';

export const BoundaryType = z.enum(['percentage_of_max', 'percentage_of_current']);
export type BoundaryType = z.infer<typeof BoundaryType>;

/**
 * The thresholds under a resource's allocation. `boundary` is a percentage
 * (0–100) of `max` or `current`; `upper` and `lower` are derived by the
 * Guardian (upper = current − margin, lower = upper − margin) and are null
 * until first computed.
 */
export const ResourceLimits = z.strictObject({
  boundary: z.number().min(0).max(100),
  boundary_type: BoundaryType.default('percentage_of_max'),
  upper: z.number().int().nullable().default(null),
  lower: z.number().int().nullable().default(null),
});
export type ResourceLimits = z.infer<typeof ResourceLimits>;

export const Limits = z.strictObject({
  name: ContainerName,
  resources: z.partialRecord(Resource, ResourceLimits),
});
export type Limits = z.infer<typeof Limits>;

export const DEFAULT_BOUNDARY = { boundary: 10, boundary_type: 'percentage_of_max' } as const;
