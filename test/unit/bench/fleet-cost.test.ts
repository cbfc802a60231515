import { describe, expect, it } from '@jest/globals';
import { lambdaPlatformLog } from '../../../bench/cost/model.ts';
import {
  completeCounts,
  type Deployment,
  type FleetRun,
  PLATFORM_ASSUMPTIONS,
} from '../../../bench/fleet-cost.ts';

const fn = (name: string, invocationsPerMonth: number, scheduledPerMonth = invocationsPerMonth) => ({
  name,
  memoryMiB: name.startsWith('control-tick') ? 512 : 256,
  arch: 'arm64' as const,
  invocationsPerMonth,
  billedSecondsPerInvocation: 0.2,
  scheduledPerMonth,
});
const run = {
  options: { containers: 1000, perHost: 20 },
  hosts: 50,
  measuredSeconds: 3600,
  invocationBilledS: Array.from({ length: 360 }, () => 0.2),
  counts: {
    perContainerTick: { readUnits: 0, writeUnits: 0, sqsRequests: 0, logBytes: 0 },
    perTick: { readUnits: 0, writeUnits: 0, logBytes: 0 },
    perHostMonth: { sqsRequests: 0, writeUnits: 0, logBytes: 0 },
    functions: [
      fn('control-tick (clock messages)', 262_800, 0),
      fn('control-tick (watchdog)', 43_800),
      fn('sanity', 43_800),
    ],
  },
  logs: {
    tick: { bytes: 360 * 1400, events: 720 }, // 1,400 B and 2 lines a tick
    watchdogEmf: { bytes: 170, events: 1 },
    ops: { sanity: { bytes: 60 * 1900, events: 180 } }, // 60 invocations in the hour
  },
  emfMetrics: ['ns/Ticks/service=controlTick', 'ns/AgentsDegraded/service=sanity'],
  metricsStore: { requests: 100, sentBytes: 1e6, receivedBytes: 9e6 },
  sqsHttp: { requests: 10, sentBytes: 2e5, receivedBytes: 1e5 },
  agentsReceivedBytes: 4e6,
} as unknown as FleetRun;
const deployment: Deployment = {
  template: { logRetentionDays: 14, tracing: true, alarmMetrics: 11, dashboards: 1, tableKey: 'aws-managed' },
  initMs: { controlTick: 300, api: 200, sanity: 400, snapshoter: 200, rebalancer: 200 },
  network: { kind: 'public' },
};

describe('completeCounts', () => {
  const c = completeCounts(run, deployment);
  const f = (name: string) => c.functions.find((x) => x.name.startsWith(name));
  const platform512 = lambdaPlatformLog({ memoryMiB: 512, traced: true, coldStart: false });

  it('gives each tick its share of the measured lines, plus Lambda’s three', () => {
    expect(f('control-tick (clock')?.log).toEqual({ bytes: 1400 + platform512.bytes, events: 2 + 3 });
    expect(f('control-tick (watchdog)')?.log).toEqual({ bytes: 170 + platform512.bytes, events: 1 + 3 });
    // 60 sweeps in the measured hour: 1,900 B and 3 lines each
    expect(f('sanity')?.log?.events).toBe(3 + 3);
  });

  it('starts two control-tick environments an hour and one of each other function, at the measured INIT', () => {
    expect(f('control-tick (clock')?.coldStarts).toEqual({ perMonth: 730 * 2, initSeconds: 0.3 });
    expect(f('control-tick (watchdog)')?.coldStarts).toBeUndefined();
    expect(f('sanity')?.coldStarts).toEqual({ perMonth: 730, initSeconds: 0.4 });
  });

  it('adds the assumed API traffic as requests and api invocations', () => {
    expect(f('api')?.invocationsPerMonth).toBe(PLATFORM_ASSUMPTIONS.api.requestsPerMonth);
    expect(c.platform?.apiRequestsPerMonth).toBe(PLATFORM_ASSUMPTIONS.api.requestsPerMonth);
  });

  it('scales the hour’s bytes to a month and counts callers, metrics and traces', () => {
    const p = c.platform;
    expect(p?.metricsStore.sentBytesPerMonth).toBeCloseTo(1e6 * 730, 0); // an hour's bytes × 730 hours
    expect(p?.sqsBytesPerMonth).toBeCloseTo(3e5 * 730, 0);
    expect(p?.agentsReceivedBytesPerMonth).toBeCloseTo(4e6 * 730, 0);
    expect(p?.tableKey).toEqual({ kind: 'aws-managed', callers: 5 + 50 }); // function roles + host roles
    expect(p?.customMetrics).toBe(2 + 5); // EMF seen + ColdStart of each of the 5 functions
    // traced: every invocation of every function (all under one a second)
    expect(p?.tracesPerMonth).toBe(262_800 + 43_800 + 43_800 + 100_000);
  });

  it('priced for a larger fleet, scales the bytes and the host roles with it', () => {
    const big = completeCounts(run, deployment, 10_000).platform;
    expect(big?.metricsStore.sentBytesPerMonth).toBeCloseTo(1e6 * 730 * 10, 0);
    expect(big?.agentsReceivedBytesPerMonth).toBeCloseTo(4e6 * 730 * 10, 0);
    expect(big?.tableKey.callers).toBe(5 + 500); // 10,000 / 20 hosts
  });

  it('traces nothing when the template does not trace', () => {
    const off = completeCounts(run, { ...deployment, template: { ...deployment.template, tracing: false } });
    expect(off.platform?.tracesPerMonth).toBe(0);
  });
});
