import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { GuardState } from '../../../../core/contracts/guard-state.ts';
import { ValidationError } from '../../../../core/errors.ts';
import {
  currentOverMax,
  guardResources,
  maxOverHost,
  patchAggregateSpec,
  patchBoundary,
  patchSpec,
} from '../../../../core/policy/resource-spec.ts';
import { aHost } from '../../../support/planner-fixtures.ts';

const spec = { max: 400, min: 50, current: 200, guard: true, weight: 1 };

describe('patchSpec', () => {
  it('applies max, min, weight and guard and keeps current', () => {
    expect(patchSpec(spec, { max: 300, min: 100, weight: 2, guard: false }, true)).toEqual({
      max: 300,
      min: 100,
      current: 200,
      guard: false,
      weight: 2,
    });
  });

  it('names max when it would fall below current, and min when it would rise above it', () => {
    expect(() => patchSpec(spec, { max: 199 }, true)).toThrow(/max: must be ≥ current \(200\)/);
    expect(() => patchSpec(spec, { min: 201 }, true)).toThrow(/min: must be ≤ current \(200\)/);
  });

  it('names the field that was given when min and max cross', () => {
    expect(() => patchSpec(spec, { min: 500 }, false)).toThrow(/min: must be ≤ max \(400\)/);
    expect(() => patchSpec(spec, { max: 10 }, false)).toThrow(/max: must be ≥ min \(50\)/);
  });

  it('always returns min ≤ current ≤ max, or refuses naming max or min', () => {
    fc.assert(
      fc.property(fc.record({ max: fc.nat(1000), min: fc.nat(1000) }, { requiredKeys: [] }), (patch) => {
        try {
          const next = patchSpec(spec, patch, true);
          expect(next.min).toBeLessThanOrEqual(next.current);
          expect(next.current).toBeLessThanOrEqual(next.max);
        } catch (err) {
          expect(err).toBeInstanceOf(ValidationError);
          expect(['max', 'min']).toContain((err as ValidationError).field);
        }
      }),
    );
  });
});

describe('patchAggregateSpec', () => {
  it("starts a resource the structure lacks from the patch's max, current 0", () => {
    expect(patchAggregateSpec(undefined, { max: 800, min: 100 })).toEqual({
      max: 800,
      min: 100,
      current: 0,
      guard: true,
      weight: 1,
    });
  });

  it('leaves current unchecked: a max below the aggregated current is taken', () => {
    // current 200 > max 150 would be refused on a container
    expect(patchAggregateSpec(spec, { max: 150 }).max).toBe(150);
    expect(() => patchAggregateSpec(spec, { max: 40 })).toThrow(/max: must be ≥ min \(50\)/);
  });
});

describe('patchBoundary', () => {
  const guard = GuardState.parse({
    structure: 'c1',
    structureType: 'container',
    version: 3,
    limits: { cpu: { boundary: 25, boundary_type: 'percentage_of_current', upper: 300, lower: 100 } },
  });

  it('changes only what the patch names and keeps the derived upper and lower', () => {
    expect(patchBoundary(guard, 'cpu', { boundary: 40 }).limits.cpu).toEqual({
      boundary: 40,
      boundary_type: 'percentage_of_current',
      upper: 300,
      lower: 100,
    });
  });

  it('starts a resource without limits from the default boundary (10)', () => {
    expect(patchBoundary(guard, 'mem', { boundary_type: 'percentage_of_current' }).limits.mem).toEqual({
      boundary: 10,
      boundary_type: 'percentage_of_current',
      upper: null,
      lower: null,
    });
    expect(guard.limits.mem).toBeUndefined(); // the input is not changed
  });
});

describe('maxOverHost', () => {
  // 2 sockets × 2 cores × 2 threads = 8 cpus × 100 = 800 shares; ssd0 reads 500, writes 400 MiB/s
  const host = aHost();

  it("gives the host's total when max is above it, null at or below it", () => {
    expect(maxOverHost(host, 'cpu', null, 801)).toBe(800);
    expect(maxOverHost(host, 'cpu', null, 800)).toBeNull();
    expect(maxOverHost(host, 'disk_write', 'ssd0', 401)).toBe(400);
  });

  it('bounds nothing the host has no total for: no disk named, an unknown disk, no net', () => {
    expect(maxOverHost(host, 'disk_read', null, 10_000)).toBeNull();
    expect(maxOverHost(host, 'disk_read', 'nvme9', 10_000)).toBeNull();
    expect(maxOverHost(aHost({ netMbps: null }), 'net', null, 10_000)).toBeNull();
  });
});

describe('currentOverMax', () => {
  const app = { cpu: { max: 400, min: 0, current: 0, guard: true, weight: 1 } };

  it("names the first resource whose containers' current is over the application's max", () => {
    // the containers' current summed: 450 > max 400
    expect(currentOverMax(app, { cpu: { ...app.cpu, current: 450 } })).toEqual({
      resource: 'cpu',
      current: 450,
      max: 400,
    });
  });

  it('passes a current at max, and a resource the aggregate does not have', () => {
    expect(currentOverMax(app, { cpu: { ...app.cpu, current: 400 } })).toBeNull();
    expect(currentOverMax(app, {})).toBeNull();
    expect(currentOverMax(app, undefined)).toBeNull();
  });
});

describe('guardResources', () => {
  const resources = { cpu: spec, mem: { ...spec, max: 4096 } };

  it('sets the guard flag on the listed resources only, on a copy', () => {
    const out = guardResources(resources, ['mem'], false, 'container c1');
    expect(out.mem?.guard).toBe(false);
    expect(out.cpu).toBe(resources.cpu);
    expect(resources.mem.guard).toBe(true);
  });

  it('refuses a resource the structure lacks, naming its place in the list', () => {
    expect(() => guardResources(resources, ['cpu', 'net'], false, 'application a1')).toThrow(
      /resources\[1\]: application a1 has no net resource/,
    );
  });
});
