import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from '@jest/globals';
import { CGROUP_V1_ROOT, createPlainCgroupWorkload } from '../../../local/containers.ts';
import { cgroupSampleReader, sampleCgroup, summarise } from '../../../local/quality.ts';

describe('control quality from real cgroup files', () => {
  it('sees a busy loop under a 20 % quota use most of it and get throttled', async () => {
    const c = await createPlainCgroupWorkload(`sc-quality-${process.pid}`);
    try {
      writeFileSync(`${CGROUP_V1_ROOT}/cpu/${c.cgroupPath}/cpu.cfs_quota_us`, '20000'); // 0.2 core
      await c.setPhase({ kind: 'cpu', workers: 1 });
      await sleep(400);
      const ac = new AbortController();
      const run = sampleCgroup({
        read: cgroupSampleReader(CGROUP_V1_ROOT, c.cgroupPath),
        intervalMs: 250,
        signal: ac.signal,
      });
      await sleep(2000);
      ac.abort();
      const q = summarise(await run, { hostCores: 2, hostMemMiB: 1024 });
      expect(q.durationS).toBeGreaterThan(1.8);
      expect(q.cpuAllocatedCoreS).toBeCloseTo(0.2 * q.durationS, 1);
      // Near 1 when the host has idle CPU; lower when other work competes for the 2 cores.
      expect(q.cpuUtilisation).toBeGreaterThan(0.3);
      expect(q.cpuUtilisation).toBeLessThan(1.1);
      expect(q.throttledS).toBeGreaterThan(0); // a busy loop always hits a 0.2-core quota
      expect(q.oomKills).toBe(0);
    } finally {
      await c.remove();
    }
  }, 30_000);
});
