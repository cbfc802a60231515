import { describe, expect, it } from '@jest/globals';
import type { Fleet } from '../../../../adapters/dynamodb/fleet.ts';
import { Application, User } from '../../../../core/contracts/structure.ts';
import { snapshotPoints } from '../../../../functions/ops/snapshot.ts';
import { aContainer } from '../../../support/containers.ts';
import { aHostState, spec } from '../../../support/ops-fixtures.ts';

function aFleet(): Fleet {
  const host = aHostState('h1', [
    aContainer('c1', 'h1', { application: 'app', resources: { cpu: spec(200, 400, 50) } }),
    aContainer('c2', 'h1', { application: 'app', resources: { cpu: spec(100, 400, 50) } }),
  ]);
  return {
    hosts: [
      {
        state: host,
        guards: new Map([
          [
            'c1',
            {
              structure: 'c1',
              structureType: 'container',
              version: 1,
              limits: { cpu: { boundary: 10, boundary_type: 'percentage_of_max', upper: 160, lower: null } },
              events: [],
              lastDecision: null,
              dryRun: false,
            },
          ],
        ]),
        applied: new Map(),
        heartbeat: null,
      },
    ],
    applications: [
      {
        app: Application.parse({
          name: 'app',
          user: 'u',
          containers: ['c1', 'c2'],
          resources: { cpu: spec(0, 800, 100) },
        }),
        guard: null,
      },
    ],
    users: [User.parse({ name: 'u', applications: ['app'], resources: { cpu: spec(0, 1000) } })],
    services: new Map([
      [
        'guardian',
        {
          name: 'guardian',
          config: { WINDOW_DELAY: 3, DRY_RUN: true, GUARDABLE_RESOURCES: ['cpu'] },
          heartbeat: null,
          version: 0,
        },
      ],
    ]),
    rules: [],
    invalid: [],
  };
}

describe('snapshot points', () => {
  const points = snapshotPoints(
    aFleet(),
    new Map([
      ['c1', { cpu: 120 }],
      ['c2', { cpu: null }],
    ]),
    5_000,
  );
  const value = (metric: string, tags: Record<string, string>) =>
    points
      .filter((p) => p.metric === metric && JSON.stringify(p.tags) === JSON.stringify(tags))
      .map((p) => p.value);

  it("write containers' allocation, usage when known, and limits that are set", () => {
    expect(value('structure.cpu.current', { structure: 'c1' })).toEqual([200]);
    expect(value('structure.cpu.max', { structure: 'c1' })).toEqual([400]);
    expect(value('structure.cpu.min', { structure: 'c1' })).toEqual([50]);
    expect(value('structure.cpu.usage', { structure: 'c1' })).toEqual([120]);
    expect(value('structure.cpu.usage', { structure: 'c2' })).toEqual([]);
    expect(value('limit.cpu.upper', { structure: 'c1' })).toEqual([160]);
    expect(value('limit.cpu.lower', { structure: 'c1' })).toEqual([]);
    expect(points.every((p) => p.timestamp === 5_000)).toBe(true);
  });

  it('write applications as sums of their containers, users tagged user=<name>, hosts as allocated of max', () => {
    // app: 200 + 100 = 300 allocated, usage 120 (c2 has no data)
    expect(value('structure.cpu.current', { structure: 'app' })).toEqual([300]);
    expect(value('structure.cpu.usage', { structure: 'app' })).toEqual([120]);
    expect(value('structure.cpu.max', { user: 'u' })).toEqual([1000]);
    expect(value('structure.cpu.current', { user: 'u' })).toEqual([300]);
    expect(value('structure.cpu.current', { structure: 'h1' })).toEqual([300]);
    expect(value('structure.mem.max', { structure: 'h1' })).toEqual([8192]);
  });

  it('write numeric and boolean service settings as conf.<service>.<key>', () => {
    expect(value('conf.guardian.window_delay', { service: 'guardian' })).toEqual([3]);
    expect(value('conf.guardian.dry_run', { service: 'guardian' })).toEqual([1]);
    expect(points.some((p) => p.metric === 'conf.guardian.guardable_resources')).toBe(false);
  });
});
