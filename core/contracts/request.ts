import { z } from 'zod';
import { Name } from './names.ts';
import { Reason } from './reason.ts';
import { StructureType } from './structure.ts';
import { EpochMillis, Resource } from './units.ts';

export const RequestField = z.enum(['current', 'max']);
export type RequestField = z.infer<typeof RequestField>;

export const RequestSource = z.enum(['guardian', 'operator', 'rebalancer', 'sanity']);
export type RequestSource = z.infer<typeof RequestSource>;

/**
 * A scaling request: the contract between the producers (Guardian, operators,
 * ReBalancer) and the planner. `amount` is a signed step in the resource's unit.
 */
export const ScaleRequest = z.strictObject({
  id: z.string().min(1).max(128),
  structure: Name,
  structureType: StructureType.exclude(['host']),
  resource: Resource,
  field: RequestField.default('current'),
  amount: z
    .number()
    .int()
    .refine((n) => n !== 0, { message: 'amount must not be 0' }),
  /** Higher wins on duplicates and goes first among ties. ReBalancer: receivers 2, donors −1. */
  priority: z.number().int().default(0),
  timestamp: EpochMillis,
  /** ReBalancer swaps: the donor that gives `amount` to `structure`; both halves apply or neither. */
  pairStructure: Name.nullable().default(null),
  source: RequestSource,
  /** Usage seen when the request was made (for fit_to_usage and memory safety); null = unknown. */
  usage: z.number().finite().nonnegative().nullable().default(null),
  reasons: z.array(Reason).default([]),
});
export type ScaleRequest = z.infer<typeof ScaleRequest>;
export type ScaleRequestInput = z.input<typeof ScaleRequest>;

/** Name of the original's request action, e.g. CpuRescaleUp (for logs and compatibility). */
export function requestAction(r: Pick<ScaleRequest, 'resource' | 'amount'>): string {
  const res = r.resource.charAt(0).toUpperCase() + r.resource.slice(1);
  return `${res}Rescale${r.amount > 0 ? 'Up' : 'Down'}`;
}
