import { describe, expect, it } from '@jest/globals';
import { ASSUMED_FLEET, asDocumented, lean } from '../../../../bench/cost/assumptions.ts';
import { estimateMonthlyCost } from '../../../../bench/cost/model.ts';

describe('written-down designs (the figures quoted in docs/cost.md)', () => {
  it('reads each host partition once per tick in the documented design', () => {
    // partition of 20 containers: 250 + 20×300 + 20×(500+300) = 22,250 B → 6 RRU strong → 0.3 per container
    expect(asDocumented().perContainerTick.readUnits).toBeCloseTo(0.3, 9);
  });

  it('costs what docs/cost.md says per 1,000 containers', () => {
    const doc = estimateMonthlyCost(asDocumented(), ASSUMED_FLEET).usdPer1000ContainersPerMonth;
    const cheap = estimateMonthlyCost(lean(), ASSUMED_FLEET).usdPer1000ContainersPerMonth;
    expect(doc).toBeCloseTo(54.95, 2);
    expect(cheap).toBeCloseTo(14.21, 2);
    expect(cheap).toBeLessThan(doc);
  });
});
