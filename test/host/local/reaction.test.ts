import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from '@jest/globals';
import { CGROUP_V1_ROOT, createPlainCgroupWorkload } from '../../../local/containers.ts';
import { cgroupFileReader, measureSteps, quotaToShares } from '../../../local/reaction.ts';

/**
 * A stand-in controller on real cgroups (not the product's loop): every 200 ms
 * it reads the cgroup's CPU usage and sets a 30 % or 90 % core quota. It lets
 * the harness be checked against real cgroup files before the loop exists.
 */
function standInController(cgroupPath: string, signal: AbortSignal): Promise<void> {
  const dir = (c: string) => `${CGROUP_V1_ROOT}/${c}/${cgroupPath}`;
  const usage = () => Number(readFileSync(`${dir('cpuacct')}/cpuacct.usage`, 'utf8'));
  const setQuota = (us: number) => writeFileSync(`${dir('cpu')}/cpu.cfs_quota_us`, String(us));
  setQuota(30_000);
  return (async () => {
    let last = usage();
    while (!signal.aborted) {
      await sleep(200);
      const now = usage();
      const cores = (now - last) / 1e9 / 0.2;
      last = now;
      if (cores > 0.08) setQuota(90_000);
      else if (cores < 0.03) setQuota(30_000);
    }
  })();
}

describe('reaction harness on a real cgroup', () => {
  it('times quota rises and falls that a controller makes after CPU steps', async () => {
    const c = await createPlainCgroupWorkload(`sc-react-${process.pid}`);
    const ac = new AbortController();
    const controller = standInController(c.cgroupPath, ac.signal);
    try {
      const quota = cgroupFileReader(CGROUP_V1_ROOT, c.cgroupPath, 'cpu', 'cpu.cfs_quota_us');
      expect(quotaToShares(await quota())).toBe(30);
      const r = await measureSteps({
        container: c,
        read: quota,
        steps: 2,
        timeoutMs: 10_000,
        pollMs: 50,
        settleMs: 300,
      });
      expect(r.failures).toEqual([]);
      expect(r.upMs).toHaveLength(2);
      expect(r.downMs).toHaveLength(2);
      // Workload switch (≤ 0.2 s) + one controller period (0.2 s) + polling: well under 3 s, never 0.
      for (const d of [...r.upMs, ...r.downMs]) {
        expect(d).toBeGreaterThan(0);
        expect(d).toBeLessThan(3_000);
      }
      expect(quotaToShares(await quota())).toBe(30);
    } finally {
      ac.abort();
      await controller;
      await c.remove();
    }
  }, 60_000);
});
