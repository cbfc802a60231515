import { describe, expect, it } from '@jest/globals';
import type { ScaleRequest } from '../../../../../core/contracts/request.ts';
import { defaultConfig } from '../../../../../core/contracts/service-config.ts';
import { type ContainerView, planRebalance } from '../../../../../core/policy/rebalancer/plan.ts';

/**
 * Two containers of one application on one host: 'idle' needs 20 shares,
 * 'hot' would use 350 but is held at its allocation. Each period the
 * ReBalancer plans, and the simulated planner applies each pair all-or-nothing.
 */
describe('rebalancer simulation', () => {
  it('moves resources from the idle container to the saturated one, total unchanged', () => {
    const demand: Record<string, number> = { idle: 20, hot: 350 };
    const alloc: Record<string, number> = { idle: 200, hot: 100 };
    const config = { ...defaultConfig('rebalancer'), ACTIVE: true };
    const view = (name: string): ContainerView => ({
      name,
      host: 'h1',
      application: 'app',
      guard: true,
      resources: { cpu: { max: 400, min: 50, current: alloc[name] as number, guard: true, weight: 1 } },
      // a container cannot use more than it is given
      usage: { cpu: Math.min(demand[name] as number, alloc[name] as number) },
      hostDegraded: false,
    });
    const apply = (r: ScaleRequest) => {
      const donor = r.pairStructure as string;
      alloc[r.structure] = (alloc[r.structure] as number) + r.amount;
      alloc[donor] = (alloc[donor] as number) - r.amount;
    };
    const trace: [number, number][] = [];
    for (let period = 0; period < 4; period++) {
      const plan = planRebalance({
        containers: [view('idle'), view('hot')],
        applications: [],
        config,
        now: period * 30_000,
      });
      for (const r of plan.requests) apply(r);
      trace.push([alloc.idle as number, alloc.hot as number]);
      expect((alloc.idle as number) + (alloc.hot as number)).toBe(300);
    }
    // period 1: idle gives 0.4 × (200 − 50) = 60 → 140 / 160
    // period 2: 0.4 × (140 − 50) = 36 → 104 / 196
    // period 3: 0.4 × (104 − 50) = 21.6 → 21 → 83 / 217
    // period 4: 0.4 × (83 − 50) = 13.2 → 13 → 70 / 230
    expect(trace).toEqual([
      [140, 160],
      [104, 196],
      [83, 217],
      [70, 230],
    ]);
  });
});
