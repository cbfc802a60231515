import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { ScaleRequest } from '../../../../../core/contracts/request.ts';
import { defaultConfig } from '../../../../../core/contracts/service-config.ts';
import type { ResourceSpec } from '../../../../../core/contracts/structure.ts';
import {
  type ApplicationView,
  type ContainerView,
  planRebalance,
  RECEIVER_PRIORITY,
} from '../../../../../core/policy/rebalancer/plan.ts';

const config = { ...defaultConfig('rebalancer'), ACTIVE: true };
const cpu = (current: number, over: Partial<ResourceSpec> = {}): ResourceSpec => ({
  max: 400,
  min: 50,
  current,
  guard: true,
  weight: 1,
  ...over,
});
function aContainer(
  name: string,
  over: Partial<ContainerView> & { cpu?: ResourceSpec; cpuUsage?: number | null } = {},
): ContainerView {
  const { cpu: spec, cpuUsage, ...rest } = over;
  return {
    name,
    host: 'h1',
    application: 'app1',
    guard: true,
    resources: { cpu: spec ?? cpu(200) },
    usage: { cpu: cpuUsage === undefined ? 100 : cpuUsage },
    hostDegraded: false,
    ...rest,
  };
}

describe('rebalance plan', () => {
  it('emits the receiver +amount with the donor as pairStructure, priority 2, valid against the contract', () => {
    const plan = planRebalance({
      containers: [
        aContainer('idle', { cpuUsage: 20 }),
        aContainer('busy', { cpu: cpu(100), cpuUsage: 100 }),
      ],
      applications: [],
      config,
      now: 1_000,
    });
    // 0.4 × (200 − 50) = 60
    expect(plan.requests).toEqual([
      expect.objectContaining({
        structure: 'busy',
        structureType: 'container',
        pairStructure: 'idle',
        amount: 60,
        priority: RECEIVER_PRIORITY,
        source: 'rebalancer',
        field: 'current',
        timestamp: 1_000,
      }),
    ]);
    for (const r of plan.requests) expect(ScaleRequest.safeParse(r).success).toBe(true);
  });

  it('never pairs containers of different applications in application scope, nor of different hosts in host scope', () => {
    const containers = [
      aContainer('idle', { cpuUsage: 20, application: 'app2' }),
      aContainer('busy', { cpu: cpu(100), cpuUsage: 100 }),
      aContainer('far', { cpu: cpu(100), cpuUsage: 100, host: 'h2', application: 'app2' }),
    ];
    expect(planRebalance({ containers, applications: [], config, now: 1 }).requests).toEqual([]);
    const hostScope = planRebalance({
      containers,
      applications: [],
      config: { ...config, CONTAINERS_SCOPE: 'host' },
      now: 1,
    });
    expect(hostScope.requests.map((r) => [r.pairStructure, r.structure])).toEqual([['idle', 'busy']]);
  });

  it('leaves out unguarded containers and containers on degraded hosts', () => {
    const idle = aContainer('idle', { cpuUsage: 20 });
    const busy = aContainer('busy', { cpu: cpu(100), cpuUsage: 100 });
    expect(
      planRebalance({ containers: [{ ...idle, guard: false }, busy], applications: [], config, now: 1 })
        .requests,
    ).toEqual([]);
    expect(
      planRebalance({ containers: [idle, { ...busy, hostDegraded: true }], applications: [], config, now: 1 })
        .requests,
    ).toEqual([]);
  });

  it('balances applications of one user, not across users', () => {
    const app = (name: string, user: string, current: number, usage: number): ApplicationView => ({
      name,
      user,
      running: true,
      resources: { cpu: cpu(current, { max: 1000, min: 100 }) },
      usage: { cpu: usage },
    });
    const plan = planRebalance({
      containers: [],
      applications: [app('a1', 'u1', 600, 100), app('a2', 'u1', 300, 300), app('b1', 'u2', 300, 300)],
      config: { ...config, STRUCTURES_BALANCED: ['application'] },
      now: 5,
    });
    // a1 gives 0.4 × (600 − max(100, 100)) = 200 to a2; b1 (other user) gets nothing
    expect(plan.requests).toEqual([
      expect.objectContaining({
        structure: 'a2',
        pairStructure: 'a1',
        amount: 200,
        structureType: 'application',
      }),
    ]);
  });

  it('never moves resources across hosts for containers (property, both scopes and methods)', () => {
    const containerArb = fc.record({
      name: fc.integer({ min: 0, max: 30 }).map((i) => `c${i}`),
      host: fc.constantFrom('h1', 'h2', 'h3'),
      application: fc.constantFrom('a1', 'a2', null),
      current: fc.integer({ min: 50, max: 400 }),
      usage: fc.option(fc.integer({ min: 0, max: 400 }), { nil: null }),
      weight: fc.integer({ min: 1, max: 5 }),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(containerArb, { selector: (c) => c.name, maxLength: 12 }),
        fc.constantFrom('host' as const, 'application' as const),
        fc.constantFrom('pair_swapping' as const, 'weights' as const),
        (cs, scope, method) => {
          const containers = cs.map((c) =>
            aContainer(c.name, {
              host: c.host,
              application: c.application,
              cpu: cpu(c.current, { weight: c.weight }),
              cpuUsage: c.usage === null ? null : Math.min(c.usage, c.current),
            }),
          );
          const plan = planRebalance({
            containers,
            applications: [],
            config: { ...config, CONTAINERS_SCOPE: scope, BALANCING_METHOD: method },
            now: 1,
          });
          const hostOf = new Map(containers.map((c) => [c.name, c.host]));
          const appOf = new Map(containers.map((c) => [c.name, c.application]));
          for (const r of plan.requests) {
            expect(hostOf.get(r.structure)).toBe(hostOf.get(r.pairStructure as string));
            if (scope === 'application')
              expect(appOf.get(r.structure)).toBe(appOf.get(r.pairStructure as string));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
