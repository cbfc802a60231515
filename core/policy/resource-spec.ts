/**
 * Changing a structure's resource by hand (pure): max/min/weight/guard applied to a resource spec
 * with min ≤ current ≤ max kept, a limit's boundary changed, and the checks of a new max against
 * what bounds it — the host's capacity for a container, the containers' current for an
 * application. A refused change throws a ValidationError naming the field to fix.
 */
import type { GuardState } from '../contracts/guard-state.ts';
import type { HostState } from '../contracts/host.ts';
import { own } from '../contracts/keyed.ts';
import { DEFAULT_BOUNDARY, type ResourceLimits } from '../contracts/limits.ts';
import type { ResourceMap, ResourceSpec } from '../contracts/structure.ts';
import type { Resource } from '../contracts/units.ts';
import { ValidationError } from '../errors.ts';
import { hostTotal } from './planner/capacity.ts';

/** What an operator may set on a resource directly (`current` goes through the planner). */
export interface SpecPatch {
  max?: number | undefined;
  min?: number | undefined;
  weight?: number | undefined;
  guard?: boolean | undefined;
}

export interface BoundaryPatch {
  boundary?: number | undefined;
  boundary_type?: ResourceLimits['boundary_type'] | undefined;
}

function bad(path: string, message: string): ValidationError {
  return new ValidationError('body', [{ path, message }]);
}

/** max/min/weight/guard applied to a resource, checked; `current` is never set here. */
export function patchSpec(spec: ResourceSpec, patch: SpecPatch, checkCurrent: boolean): ResourceSpec {
  const next: ResourceSpec = {
    ...spec,
    ...(patch.max === undefined ? {} : { max: patch.max }),
    ...(patch.min === undefined ? {} : { min: patch.min }),
    ...(patch.weight === undefined ? {} : { weight: patch.weight }),
    ...(patch.guard === undefined ? {} : { guard: patch.guard }),
  };
  if (next.min > next.max)
    throw patch.min !== undefined
      ? bad('min', `must be ≤ max (${next.max})`)
      : bad('max', `must be ≥ min (${next.min})`);
  if (checkCurrent && next.current > next.max)
    throw bad('max', `must be ≥ current (${next.current}); lower current first`);
  if (checkCurrent && next.current < next.min)
    throw bad('min', `must be ≤ current (${next.current}); raise current first`);
  return next;
}

/**
 * Applications and users aggregate their containers: their `current` is never set directly.
 * A resource they do not have yet starts from the patch's max.
 */
export function patchAggregateSpec(spec: ResourceSpec | undefined, patch: SpecPatch): ResourceSpec {
  const base: ResourceSpec = spec ?? { max: patch.max ?? 0, min: 0, current: 0, guard: true, weight: 1 };
  return patchSpec(base, patch, false);
}

/** A resource's boundary and boundary_type changed; a resource without limits starts from the default. */
export function patchBoundary(g: GuardState, resource: Resource, patch: BoundaryPatch): GuardState {
  const old = g.limits[resource] ?? { ...DEFAULT_BOUNDARY, upper: null, lower: null };
  return {
    ...g,
    limits: {
      ...g.limits,
      [resource]: {
        ...old,
        ...(patch.boundary === undefined ? {} : { boundary: patch.boundary }),
        ...(patch.boundary_type === undefined ? {} : { boundary_type: patch.boundary_type }),
      },
    },
  };
}

/**
 * The guard flag set on each resource `names` lists (a copy of the map); a resource the
 * structure lacks is refused, naming its place in the list (`resources[i]`).
 */
export function guardResources(
  resources: ResourceMap,
  names: readonly Resource[],
  guard: boolean,
  owner: string,
): ResourceMap {
  const out = { ...resources };
  names.forEach((r, i) => {
    const s = own(out, r);
    if (s === undefined) throw bad(`resources[${i}]`, `${owner} has no ${r} resource`);
    out[r] = { ...s, guard };
  });
  return out;
}

/**
 * The host's total of `resource` when `max` is above it (a max the container could never reach),
 * else null; a host with no total for it (hostTotal null) bounds nothing.
 */
export function maxOverHost(
  host: HostState,
  resource: Resource,
  disk: string | null,
  max: number,
): number | null {
  const total = hostTotal(host, resource, disk);
  return total !== null && max > total ? total : null;
}

export interface OverMax {
  resource: Resource;
  current: number;
  max: number;
}

/**
 * The first resource whose aggregated current (`grown`: the containers' current summed, as
 * aggregateApplication gives it) is above the application's own max; null when all fit.
 */
export function currentOverMax(stored: ResourceMap, grown: ResourceMap | undefined): OverMax | null {
  for (const [resource, spec] of Object.entries(stored) as [Resource, ResourceSpec | undefined][]) {
    const current = own(grown, resource)?.current;
    if (spec !== undefined && current !== undefined && current > spec.max)
      return { resource, current, max: spec.max };
  }
  return null;
}
