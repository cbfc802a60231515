import { describe, expect, it } from '@jest/globals';
import {
  allocationTimeline,
  type CgroupSample,
  overheadPct,
  pairedOverhead,
  summarise,
  throttledOverheadPct,
  utilisationGain,
} from '../../../local/quality.ts';

const MiB = 2 ** 20;
function sample(s: number, over: Partial<CgroupSample> = {}): CgroupSample {
  return {
    atMs: s * 1000,
    cpuUsageNs: 0,
    cpuQuotaUs: 100_000,
    cpuPeriodUs: 100_000,
    throttledNs: 0,
    memUsageBytes: 100 * MiB,
    memLimitBytes: 400 * MiB,
    oomKills: 0,
    ...over,
  };
}
const host = { hostCores: 2, hostMemMiB: 1024 };

describe('summarise', () => {
  it('divides the CPU used by the CPU allocated, interval by interval', () => {
    const q = summarise(
      [
        sample(0, { cpuQuotaUs: 100_000 }),
        sample(10, { cpuUsageNs: 5e9, cpuQuotaUs: 50_000 }), // 10 s at 1 core, 5 core-s used
        sample(20, { cpuUsageNs: 9e9 }), // 10 s at 0.5 core, 4 core-s used
      ],
      host,
    );
    expect(q.durationS).toBe(20);
    expect(q.cpuUsedCoreS).toBeCloseTo(9, 9); // 5 + 4
    expect(q.cpuAllocatedCoreS).toBeCloseTo(15, 9); // 10 × 1 + 10 × 0.5
    expect(q.cpuUtilisation).toBeCloseTo(0.6, 9); // 9 ÷ 15
  });

  it('counts no quota as the whole host and memory limits above the host as the host', () => {
    const q = summarise(
      [sample(0, { cpuQuotaUs: -1, memLimitBytes: 2 ** 62 }), sample(4, { cpuUsageNs: 2e9 })],
      host,
    );
    expect(q.cpuAllocatedCoreS).toBeCloseTo(8, 9); // 4 s × 2 cores
    expect(q.memAllocatedMiBS).toBeCloseTo(4096, 9); // 4 s × 1024 MiB
    expect(q.memUsedMiBS).toBeCloseTo(400, 9); // 4 s × 100 MiB
  });

  it('reports throttling and OOM kills over the run only', () => {
    const q = summarise(
      [sample(0, { throttledNs: 1e9, oomKills: 2 }), sample(1, { throttledNs: 3.5e9, oomKills: 3 })],
      host,
    );
    expect(q.throttledS).toBeCloseTo(2.5, 9);
    expect(q.oomKills).toBe(1);
  });

  it('has no utilisation without samples', () => {
    expect(summarise([], host)).toMatchObject({ durationS: 0, cpuUtilisation: null, oomKills: 0 });
  });
});

describe('comparisons with a fixed allocation', () => {
  it('gives the utilisation gain as a fraction and the overhead in percent', () => {
    expect(utilisationGain(0.708, 0.4)).toBeCloseTo(0.77, 9); // 0.708 ÷ 0.4 − 1
    expect(overheadPct(106, 100)).toBeCloseTo(6, 9);
    expect(() => utilisationGain(0.5, 0)).toThrow(RangeError);
  });

  it('gives the overhead of throttling from the scaled run alone: held back ÷ unthrottled time', () => {
    // a 61.8 s run held back 1.8 s would have taken 60 s: 1.8 ÷ 60 = 3 %
    expect(throttledOverheadPct(61.8, 1.8)).toBeCloseTo(3, 9);
    expect(throttledOverheadPct(60, 0)).toBe(0);
    expect(() => throttledOverheadPct(10, 10)).toThrow(RangeError);
    expect(() => throttledOverheadPct(0, 0)).toThrow(RangeError);
    expect(() => throttledOverheadPct(10, -1)).toThrow(RangeError);
  });
});

describe('allocationTimeline', () => {
  it('tells where the quota started, when it first rose, and how often it moved', () => {
    const t = allocationTimeline([
      sample(0, { cpuQuotaUs: 65_000 }), // 65 shares at the job's start
      sample(1, { cpuQuotaUs: 65_000 }),
      sample(7.5, { cpuQuotaUs: 140_000 }), // +75 after 7.5 s
      sample(40, { cpuQuotaUs: 130_000 }), // a fit_to_usage cut while the job ran
      sample(60, { cpuQuotaUs: 130_000 }),
    ]);
    expect(t).toEqual({
      startShares: 65,
      firstRaiseS: 7.5,
      raises: 1,
      cuts: 1,
      minShares: 65,
      maxShares: 140,
    });
  });

  it('has no raise when the quota never rose, and ignores an unlimited quota', () => {
    const t = allocationTimeline([sample(0, { cpuQuotaUs: -1 }), sample(5, { cpuQuotaUs: 50_000 })]);
    expect(t).toEqual({
      startShares: null,
      firstRaiseS: null,
      raises: 0,
      cuts: 0,
      minShares: 50,
      maxShares: 50,
    });
  });
});

describe('pairedOverhead', () => {
  it('compares the median scaled run time with the median fixed one, and keeps each pair', () => {
    const o = pairedOverhead([66, 62, 63], [60, 61, 59]);
    expect(o.scaledMedianS).toBe(63);
    expect(o.fixedMedianS).toBe(60);
    expect(o.pct).toBeCloseTo(5, 9); // 63 ÷ 60 − 1
    expect(o.pairsPct.map((p) => Math.round(p * 100) / 100)).toEqual([10, 1.64, 6.78]); // 66/60, 62/61, 63/59
  });

  it('takes the mean of the middle two for an even count, and refuses unpaired runs', () => {
    expect(pairedOverhead([10, 12], [10, 10]).scaledMedianS).toBe(11);
    expect(() => pairedOverhead([1, 2], [1])).toThrow(RangeError);
    expect(() => pairedOverhead([], [])).toThrow(RangeError);
  });
});
