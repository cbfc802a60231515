import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  countsFromRun,
  estimateMonthlyCost,
  type LoopCounts,
  lambdaPlatformLog,
  type PlatformUsage,
  PRICES,
  readUnits,
  SECONDS_PER_MONTH,
  sqsRequests,
  writeUnits,
} from '../../../../bench/cost/model.ts';

const nothing: LoopCounts = {
  perContainerTick: { readUnits: 0, writeUnits: 0, sqsRequests: 0, logBytes: 0 },
  perTick: { readUnits: 0, writeUnits: 0, logBytes: 0 },
  perHostMonth: { sqsRequests: 0, writeUnits: 0, logBytes: 0 },
  functions: [],
};
const fleet = { containers: 1000, containersPerHost: 20, tickSeconds: 10 };

function usd(lines: ReturnType<typeof estimateMonthlyCost>['lines'], item: string): number {
  return lines.filter((l) => l.item.includes(item)).reduce((s, l) => s + l.usdPerMonth, 0);
}

describe('request units', () => {
  it('rounds reads to 4 KB and halves eventually consistent ones', () => {
    expect(readUnits(100, 'strong')).toBe(1);
    expect(readUnits(4096, 'strong')).toBe(1);
    expect(readUnits(4097, 'strong')).toBe(2);
    expect(readUnits(34_000, 'strong')).toBe(9); // ceil(34000 / 4096) = 9
    expect(readUnits(34_000, 'eventual')).toBe(4.5);
  });

  it('rounds writes to 1 KB with at least one unit', () => {
    expect(writeUnits(0)).toBe(1);
    expect(writeUnits(1024)).toBe(1);
    expect(writeUnits(11_500)).toBe(12); // ceil(11500 / 1024) = 12
  });

  it('counts one SQS request per 64 KB chunk', () => {
    expect(sqsRequests(900)).toBe(1);
    expect(sqsRequests(65_536)).toBe(1);
    expect(sqsRequests(200 * 1024)).toBe(4); // ceil(200 / 64) = 4
  });
});

describe('estimateMonthlyCost', () => {
  it('prices per-container-tick DynamoDB units over a 730-hour month', () => {
    const e = estimateMonthlyCost(
      { ...nothing, perContainerTick: { readUnits: 0.45, writeUnits: 0.1, sqsRequests: 0, logBytes: 0 } },
      fleet,
    );
    expect(e.ticksPerMonth).toBe(262_800); // 730 × 3600 / 10
    // 0.45 RRU × 1000 containers × 262,800 ticks = 118,260,000 RRU × $0.125/M = $14.7825
    expect(usd(e.lines, 'read request units')).toBeCloseTo(14.7825, 6);
    // 0.1 WRU × 262,800,000 container-ticks = 26,280,000 WRU × $0.625/M = $16.425
    expect(usd(e.lines, 'ticks, plans')).toBeCloseTo(16.425, 6);
    expect(e.usdPer1000ContainersPerMonth).toBeCloseTo(14.7825 + 16.425, 6);
  });

  it('charges each host its agent’s idle long polls and heartbeats', () => {
    const e = estimateMonthlyCost(
      {
        ...nothing,
        perHostMonth: {
          sqsRequests: SECONDS_PER_MONTH / 20,
          writeUnits: SECONDS_PER_MONTH / 60,
          logBytes: 0,
        },
      },
      fleet,
    );
    expect(e.hosts).toBe(50); // 1000 / 20
    // 2,628,000 s / 20 s = 131,400 polls × 50 hosts = 6,570,000 × $0.50/M = $3.285
    expect(usd(e.lines, 'long polls')).toBeCloseTo(3.285, 6);
    // 2,628,000 / 60 = 43,800 heartbeats × 50 hosts = 2,190,000 WRU × $0.625/M = $1.36875
    expect(usd(e.lines, 'heartbeats')).toBeCloseTo(1.36875, 6);
  });

  it('bills Lambda for every GB-second of an invocation that waits between its ticks', () => {
    const e = estimateMonthlyCost(
      {
        ...nothing,
        functions: [
          {
            name: 'control-tick',
            memoryMiB: 128,
            arch: 'arm64',
            invocationsPerMonth: 43_800,
            billedSecondsPerInvocation: 60,
            scheduledPerMonth: 43_800,
          },
        ],
      },
      fleet,
    );
    // 43,800 × 60 s × 0.125 GB = 328,500 GB-s × $0.0000133334 = $4.38002
    expect(usd(e.lines, 'duration')).toBeCloseTo(4.38002, 4);
    // 43,800 × $0.20/M = $0.00876 ; scheduler 43,800 × $1/M = $0.0438
    expect(usd(e.lines, 'control-tick: requests')).toBeCloseTo(0.00876, 6);
    expect(usd(e.lines, 'scheduled')).toBeCloseTo(0.0438, 6);
  });

  it('charges each host its agent’s reads (reconciliation) when counted', () => {
    const e = estimateMonthlyCost(
      { ...nothing, perHostMonth: { sqsRequests: 0, writeUnits: 0, readUnits: 175_200, logBytes: 0 } },
      fleet,
    );
    // 175,200 RRU × 50 hosts = 8,760,000 RRU × $0.125/M = $1.095
    expect(usd(e.lines, 'read request units (agents)')).toBeCloseTo(1.095, 6);
    expect(usd(estimateMonthlyCost(nothing, fleet).lines, 'agents')).toBe(0); // absent: nothing charged
  });

  it('bills a chained clock for its busy ticks and its queue’s standard requests, with no schedule per tick', () => {
    const e = estimateMonthlyCost(
      {
        ...nothing,
        clockQueueRequestsPerMonth: 1_191_360,
        functions: [
          {
            name: 'control-tick (clock messages)',
            memoryMiB: 512,
            arch: 'arm64',
            invocationsPerMonth: 262_800,
            billedSecondsPerInvocation: 0.25,
            scheduledPerMonth: 0,
          },
        ],
      },
      fleet,
    );
    // 262,800 × 0.25 s × 0.5 GB = 32,850 GB-s × $0.0000133334 = $0.43800219
    expect(usd(e.lines, 'duration')).toBeCloseTo(0.438002, 5);
    // 262,800 × $0.20/M = $0.05256
    expect(usd(e.lines, 'clock messages): requests')).toBeCloseTo(0.05256, 6);
    // 1,191,360 × $0.40/M = $0.476544 (standard queue, not FIFO)
    expect(usd(e.lines, 'clock queue')).toBeCloseTo(0.476544, 6);
    expect(e.lines.some((l) => l.service === 'EventBridge')).toBe(false);
  });

  it('prices x86 duration higher than arm64', () => {
    const f = {
      name: 'f',
      memoryMiB: 1024,
      invocationsPerMonth: 1,
      billedSecondsPerInvocation: 1e6,
      scheduledPerMonth: 0,
    };
    const arm = estimateMonthlyCost({ ...nothing, functions: [{ ...f, arch: 'arm64' }] }, fleet);
    const x86 = estimateMonthlyCost({ ...nothing, functions: [{ ...f, arch: 'x86_64' }] }, fleet);
    expect(usd(arm.lines, 'duration')).toBeCloseTo(1e6 * PRICES.lambdaGbSecondUsd.arm64, 6); // $13.3334
    expect(usd(x86.lines, 'duration')).toBeCloseTo(16.6667, 4);
  });

  it('spreads fixed costs over a larger fleet', () => {
    const counts: LoopCounts = { ...nothing, perTick: { readUnits: 10, writeUnits: 0, logBytes: 0 } };
    const small = estimateMonthlyCost(counts, fleet);
    const large = estimateMonthlyCost(counts, { ...fleet, containers: 10_000 });
    expect(small.totalUsdPerMonth).toBeCloseTo(large.totalUsdPerMonth, 9);
    expect(large.usdPer1000ContainersPerMonth).toBeCloseTo(small.usdPer1000ContainersPerMonth / 10, 9);
  });

  it('grows monotonically with every count', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 10, noNaN: true }),
        fc.double({ min: 0, max: 10, noNaN: true }),
        (a, b) => {
          const lo = Math.min(a, b);
          const hi = Math.max(a, b);
          const at = (x: number) =>
            estimateMonthlyCost(
              { ...nothing, perContainerTick: { readUnits: x, writeUnits: x, sqsRequests: x, logBytes: x } },
              fleet,
            ).totalUsdPerMonth;
          return at(lo) <= at(hi);
        },
      ),
    );
  });

  it('rejects a fleet without containers and negative counts, naming the field', () => {
    expect(() => estimateMonthlyCost(nothing, { ...fleet, containers: 0 })).toThrow(/fleet\.containers/);
    expect(() =>
      estimateMonthlyCost({ ...nothing, perTick: { readUnits: -1, writeUnits: 0, logBytes: 0 } }, fleet),
    ).toThrow(/read request units/);
  });
});

describe('countsFromRun', () => {
  it('divides measured totals by ticks and containers after removing fixed per-tick requests', () => {
    const c = countsFromRun({
      ticks: 30,
      containers: 3,
      readUnits: 30 * 3.5 + 27, // fixed 3.5 per tick, then 27 over 90 container-ticks
      writeUnits: 9,
      sqsRequests: 18,
      logBytes: 0,
      fixedPerTick: { readUnits: 3.5, writeUnits: 0, logBytes: 0 },
    });
    expect(c.perContainerTick.readUnits).toBeCloseTo(0.3, 9); // 27 / 30 / 3
    expect(c.perContainerTick.writeUnits).toBeCloseTo(0.1, 9); // 9 / 90
    expect(c.perContainerTick.sqsRequests).toBeCloseTo(0.2, 9); // 18 / 90
    expect(c.perTick.readUnits).toBe(3.5);
  });
});

describe('the deployment around the loop', () => {
  const platform: PlatformUsage = {
    logRetentionDays: 14,
    metricsStore: { sentBytesPerMonth: 0, receivedBytesPerMonth: 0 },
    sqsBytesPerMonth: 0,
    agentsReceivedBytesPerMonth: 0,
    apiRequestsPerMonth: 0,
    tableKey: { kind: 'aws-owned', callers: 0 },
    customMetrics: 0,
    alarmMetrics: 0,
    dashboards: 0,
    tracesPerMonth: 0,
    network: { kind: 'public' },
  };
  const tick = {
    name: 'control-tick',
    memoryMiB: 512,
    arch: 'arm64' as const,
    invocationsPerMonth: 262_800,
    billedSecondsPerInvocation: 0.25,
    scheduledPerMonth: 0,
  };

  it('ingests each invocation’s log bytes plus 26 bytes an event, and stores the retention’s worth', () => {
    const e = estimateMonthlyCost(
      { ...nothing, functions: [{ ...tick, log: { bytes: 974, events: 5 } }], platform },
      fleet,
    );
    // 262,800 × (974 + 5 × 26 = 1,104 B) = 290,131,200 B = 0.2901312 GB × $0.50 = $0.1450656
    expect(usd(e.lines, 'ingestion (functions')).toBeCloseTo(0.1450656, 7);
    // held 14 of 30.4167 days: 0.2901312 × 14 / (730 / 24) = 0.13354 GB-month × $0.03 = $0.0040062
    expect(usd(e.lines, 'storage')).toBeCloseTo((0.2901312 * 14 * 24 * 0.03) / 730, 9);
  });

  it('bills the INIT of each cold start at the function’s memory', () => {
    const e = estimateMonthlyCost(
      { ...nothing, functions: [{ ...tick, coldStarts: { perMonth: 730, initSeconds: 0.4 } }] },
      fleet,
    );
    // 730 × 0.4 s × 0.5 GB = 146 GB-s × $0.0000133334 = $0.00194668
    expect(usd(e.lines, 'INIT')).toBeCloseTo(0.00194668, 8);
  });

  it('writes START, END and REPORT for every invocation, longer when traced and on a cold start', () => {
    const warm = lambdaPlatformLog({ memoryMiB: 512, traced: false, coldStart: false });
    const traced = lambdaPlatformLog({ memoryMiB: 512, traced: true, coldStart: false });
    const cold = lambdaPlatformLog({ memoryMiB: 512, traced: true, coldStart: true });
    expect(warm.events).toBe(3);
    expect(warm.bytes).toBeGreaterThan(200); // two 36-character request ids and REPORT's five fields
    expect(traced.bytes).toBeGreaterThan(warm.bytes);
    expect(cold.bytes).toBeGreaterThan(traced.bytes);
  });

  it('prices metrics, alarms per metric, dashboards, traces and API requests', () => {
    const e = estimateMonthlyCost(
      {
        ...nothing,
        platform: {
          ...platform,
          customMetrics: 14,
          alarmMetrics: 11,
          dashboards: 1,
          tracesPerMonth: 438_000,
          apiRequestsPerMonth: 100_000,
        },
      },
      fleet,
    );
    expect(usd(e.lines, 'custom metrics')).toBeCloseTo(4.2, 9); // 14 × $0.30
    expect(usd(e.lines, 'alarms')).toBeCloseTo(1.1, 9); // 11 × $0.10
    expect(usd(e.lines, 'dashboards')).toBe(3);
    expect(usd(e.lines, 'traces')).toBeCloseTo(2.19, 9); // 438,000 × $5/M
    expect(usd(e.lines, 'HTTP API')).toBeCloseTo(0.1, 9); // 100,000 × $1/M
  });

  it('charges no KMS for an AWS owned key, and a Decrypt per caller every 5 minutes for a managed one', () => {
    const owned = estimateMonthlyCost({ ...nothing, platform }, fleet);
    expect(usd(owned.lines, 'state table')).toBe(0);
    const managed = estimateMonthlyCost(
      { ...nothing, platform: { ...platform, tableKey: { kind: 'aws-managed', callers: 55 } } },
      fleet,
    );
    // 55 callers × 2,628,000 s / 300 s = 481,800 Decrypt × $0.03 / 10,000 = $1.4454
    expect(usd(managed.lines, 'state table')).toBeCloseTo(1.4454, 9);
    const cmk = estimateMonthlyCost(
      { ...nothing, platform: { ...platform, tableKey: { kind: 'customer-managed', callers: 55 } } },
      fleet,
    );
    const kms = (e: typeof cmk) =>
      e.lines.filter((l) => l.service === 'KMS').reduce((n, l) => n + l.usdPerMonth, 0);
    expect(kms(cmk) - kms(managed)).toBeCloseTo(1, 9); // + $1 a month for the key
  });

  it('bills data sent to the metrics store, and in a VPC the VPN and NAT gateways or endpoints', () => {
    const traffic = {
      ...platform,
      metricsStore: { sentBytesPerMonth: 20e9, receivedBytesPerMonth: 50e9 },
      sqsBytesPerMonth: 4e9,
    };
    const pub = estimateMonthlyCost(
      { ...nothing, platform: { ...traffic, agentsReceivedBytesPerMonth: 5e9 } },
      fleet,
    );
    expect(usd(pub.lines, 'to the metrics store')).toBeCloseTo(1.8, 9); // 20 GB × $0.09; in is free
    expect(usd(pub.lines, 'to the hosts')).toBeCloseTo(0.45, 9); // 5 GB of responses to the agents × $0.09
    expect(pub.lines.filter((l) => l.service === 'Network')).toHaveLength(2);
    const nat = estimateMonthlyCost(
      { ...nothing, platform: { ...traffic, network: { kind: 'vpc-nat', azs: 2 } } },
      fleet,
    );
    expect(usd(nat.lines, 'NAT gateways')).toBeCloseTo(65.7, 9); // 2 × 730 h × $0.045
    expect(usd(nat.lines, 'NAT processing')).toBeCloseTo(0.18, 9); // 4 GB × $0.045
    expect(usd(nat.lines, 'VPN')).toBeCloseTo(36.5, 9); // 730 h × $0.05
    const ep = estimateMonthlyCost(
      { ...nothing, platform: { ...traffic, network: { kind: 'vpc-endpoints', azs: 2, endpoints: 1 } } },
      fleet,
    );
    expect(usd(ep.lines, 'interface endpoints')).toBeCloseTo(14.6, 9); // 1 × 2 zones × 730 h × $0.01
    expect(usd(ep.lines, 'endpoint processing')).toBeCloseTo(0.04, 9); // 4 GB × $0.01
    expect(usd(ep.lines, 'NAT')).toBe(0);
  });

  it('refuses a retention of 0 days and a VPC without zones', () => {
    expect(() =>
      estimateMonthlyCost({ ...nothing, platform: { ...platform, logRetentionDays: 0 } }, fleet),
    ).toThrow(/logRetentionDays/);
    expect(() =>
      estimateMonthlyCost(
        { ...nothing, platform: { ...platform, network: { kind: 'vpc-nat', azs: 0 } } },
        fleet,
      ),
    ).toThrow(/azs/);
  });
});
