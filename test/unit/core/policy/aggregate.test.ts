import { describe, expect, it } from '@jest/globals';
import type { ResourceSpec } from '../../../../core/contracts/structure.ts';
import { aggregateApplication, checkUserBudget, sumUsage } from '../../../../core/policy/aggregate.ts';

const spec = (max: number, current = 0, min = 0): ResourceSpec => ({
  max,
  min,
  current,
  guard: true,
  weight: 1,
});

describe('application aggregation', () => {
  it('sums known usages and gives null only when none is known', () => {
    expect(
      sumUsage([
        { cpu: 30, mem: null },
        { cpu: 12.5, mem: null },
      ]),
    ).toEqual({ cpu: 42.5, mem: null });
    expect(sumUsage([{ cpu: null }, { cpu: 7 }])).toEqual({ cpu: 7 });
  });

  it("makes current the sum of the containers' allocations and usage the sum of their usage", () => {
    const containers = new Map([
      ['c1', { resources: { cpu: spec(400, 150), mem: spec(4096, 1024) } }],
      ['c2', { resources: { cpu: spec(400, 250), mem: spec(4096, 2048) } }],
      ['other', { resources: { cpu: spec(400, 400) } }],
    ]);
    const usage = new Map([
      ['c1', { cpu: 100, mem: 900 }],
      ['c2', { cpu: 200, mem: null }],
    ]);
    const app = aggregateApplication(
      {
        name: 'app',
        containers: ['c1', 'c2', 'gone'],
        resources: { cpu: spec(800, 0, 100), mem: spec(8192) },
      },
      containers,
      usage,
    );
    // cpu: 150 + 250 = 400; mem: 1024 + 2048 = 3072; usage cpu 100 + 200 = 300, mem 900 (c2 has no data)
    expect(app.resources.cpu).toEqual({ max: 800, min: 100, current: 400, guard: true, weight: 1 });
    expect(app.resources.mem?.current).toBe(3072);
    expect(app.usage).toEqual({ cpu: 300, mem: 900 });
    expect(app.missing).toEqual(['gone']);
  });
});

describe('user budget', () => {
  it("accepts applications whose max add up to at most the user's max", () => {
    // 600 + 400 = 1000 ≤ 1000
    expect(
      checkUserBudget({ name: 'u', resources: { cpu: spec(1000) } }, [
        { name: 'a', resources: { cpu: spec(600) } },
        { name: 'b', resources: { cpu: spec(400) } },
      ]),
    ).toEqual({ ok: true });
  });

  it('names the resource and the excess when they do not fit', () => {
    // 600 + 500 = 1100 > 1000 by 100; mem is not bounded by the user
    const check = checkUserBudget({ name: 'u', resources: { cpu: spec(1000) } }, [
      { name: 'a', resources: { cpu: spec(600), mem: spec(99999) } },
      { name: 'b', resources: { cpu: spec(500) } },
    ]);
    expect(check).toEqual({
      ok: false,
      violations: [{ resource: 'cpu', applicationsMax: 1100, userMax: 1000, excess: 100 }],
      text: expect.stringContaining('above the user'),
    });
  });
});
