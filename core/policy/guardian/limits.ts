import type { BoundaryType, ResourceLimits } from '../../contracts/limits.ts';
import { DEFAULT_BOUNDARY } from '../../contracts/limits.ts';

/** The allocation values the limits hang from (one resource of one structure). */
export interface Allocation {
  max: number;
  min: number;
  current: number;
}

/** margin = max(floor(base × boundary / 100), 1); base = max or current by boundary_type. */
export function margin(alloc: Allocation, boundary: number, boundaryType: BoundaryType): number {
  const base = boundaryType === 'percentage_of_max' ? alloc.max : Math.min(alloc.current, alloc.max);
  return Math.max(Math.floor((base * boundary) / 100), 1);
}

export interface EnforcedLimits {
  limits: ResourceLimits & { upper: number; lower: number };
  /** current clamped to max (never persisted by the Guardian; the planner owns current). */
  current: number;
  margin: number;
  /** true when upper or lower differ from what was stored. */
  changed: boolean;
}

/**
 * Enforce the chain the original Guardian repairs every epoch:
 * current ≤ max, upper = current − margin, lower = upper − margin.
 * Computed directly (no repair passes): the result always satisfies it.
 */
export function enforceLimits(alloc: Allocation, stored: ResourceLimits | undefined): EnforcedLimits {
  const boundary = Math.min(Math.max(stored?.boundary ?? DEFAULT_BOUNDARY.boundary, 0), 100);
  const boundaryType = stored?.boundary_type ?? DEFAULT_BOUNDARY.boundary_type;
  const current = Math.min(alloc.current, alloc.max);
  const m = margin(alloc, boundary, boundaryType);
  const upper = current - m;
  const lower = upper - m;
  const changed =
    stored === undefined ||
    stored.upper !== upper ||
    stored.lower !== lower ||
    stored.boundary !== boundary ||
    stored.boundary_type !== boundaryType;
  return { limits: { boundary, boundary_type: boundaryType, upper, lower }, current, margin: m, changed };
}
