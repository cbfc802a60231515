import { describe, expect, it } from '@jest/globals';
import { Liveness, provingStore } from '../../../host-agent/liveness.ts';
import { FakeStore } from '../../support/agent-fakes.ts';

const report = (appliedVersion: number, appliedAt: number) => ({
  host: 'h1',
  container: 'c1',
  appliedVersion,
  appliedAt,
  outcome: 'applied' as const,
  limits: {
    cpuShares: 50,
    cpuset: null,
    memMiB: null,
    diskReadMiBps: null,
    diskWriteMiBps: null,
    netMbps: null,
  },
  issues: [],
  via: 'order' as const,
});

describe('when a heartbeat is due', () => {
  it('is due at once before any sign of life, then one period after the newest', () => {
    const l = new Liveness();
    expect(l.dueAt(60_000, 5_000)).toBe(5_000);
    l.proved(10_000);
    expect(l.dueAt(60_000, 20_000)).toBe(70_000); // 10 000 + 60 000
    l.proved(8_000); // older: changes nothing
    expect(l.dueAt(60_000, 20_000)).toBe(70_000);
    l.proved(50_000);
    expect(l.dueAt(60_000, 20_000)).toBe(110_000); // 50 000 + 60 000
  });
});

describe('the proving store', () => {
  it('counts a landed report by its appliedAt and a heartbeat by its at', async () => {
    const store = new FakeStore();
    const l = new Liveness();
    const s = provingStore(store, l);
    expect(await s.putReport(report(2, 30_000))).toBe(true);
    expect(l.last).toBe(30_000);
    await s.putHeartbeat({ host: 'h1', at: 45_000, agentVersion: '1', cgroupVersion: 'v1', containers: [] });
    expect(l.last).toBe(45_000);
    expect(store.heartbeats).toHaveLength(1);
  });

  it('counts nothing for a report refused because a newer one is stored, or a write that failed', async () => {
    const store = new FakeStore();
    const l = new Liveness();
    const s = provingStore(store, l);
    await s.putReport(report(5, 10_000));
    expect(await s.putReport(report(4, 20_000))).toBe(false);
    expect(l.last).toBe(10_000);
    store.failReports = 1;
    await expect(s.putReport(report(6, 30_000))).rejects.toThrow();
    expect(l.last).toBe(10_000);
  });
});
