/**
 * The whole loop end to end on this machine (root, cgroup v1, LXC): a real LXC
 * busybox container guarded through the API, usage published by the host agent
 * to VictoriaMetrics, the control tick (Guardian → Scaler → SQS) under the local
 * scheduler, the agent applying orders to the container's cgroup. Uses the
 * `tuned` service config (1 s windows) so it stays fast; defaults are measured
 * by `npm run bench -- loop`.
 */
import { describe, expect, it } from '@jest/globals';
import {
  CGROUP_V1_ROOT,
  createLxcWorkload,
  detectHostSupport,
  favourCpu,
} from '../../../local/containers.ts';
import { type GuardSpec, startLoop } from '../../../local/loop.ts';
import { type CgroupSample, cgroupSampleReader } from '../../../local/quality.ts';
import { cgroupFileReader, measureReaction } from '../../../local/reaction.ts';
import { readCpuTopology, readMemTotalMiB } from '../../../local/topology.ts';

const support = await detectHostSupport();
// Under CI a host without LXC is a failure to see, not a skip.
const describeLxc = support.mode === 'lxc' || process.env.CI === 'true' ? describe : describe.skip;
if (support.mode !== 'lxc') process.stderr.write(`loop e2e skipped: ${support.reason}\n`);

const SPEC: GuardSpec = {
  cpu: { min: 25, current: 50, max: 150 },
  mem: { min: 64, current: 96, max: 768 },
};
const MiB = 2 ** 20;
/** The reaction budget of the tuned config (its p95 goal is a few seconds; CI machines are shared). */
const REACTION_BUDGET_MS = 20_000;

describeLxc('the loop on this machine (LXC, tuned config)', () => {
  it('raises the CPU limit under load, lowers it to fit usage after, raises memory before an OOM kill, always within [min, max] and the host', async () => {
    const ac = new AbortController();
    const loop = await startLoop({ config: 'tuned', signal: ac.signal, dashboard: false });
    const c = await createLxcWorkload(`sc-e2e-${process.pid}`);
    const samples: CgroupSample[] = [];
    let sampling: Promise<void> = Promise.resolve();
    try {
      await favourCpu(c); // CI machines are shared: the burner must get the CPU its quota allows
      await loop.guard(c, SPEC);
      const read = cgroupSampleReader(CGROUP_V1_ROOT, c.cgroupPath);
      sampling = (async () => {
        while (!ac.signal.aborted) {
          samples.push(await read());
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
      const quotaShares = async () => {
        const q = await cgroupFileReader(CGROUP_V1_ROOT, c.cgroupPath, 'cpu', 'cpu.cfs_quota_us')();
        return q === null ? null : q / 1000; // period 100 000 µs: 1000 µs = 1 share
      };
      const memLimitMiB = async () => {
        const b = await cgroupFileReader(CGROUP_V1_ROOT, c.cgroupPath, 'memory', 'memory.limit_in_bytes')();
        return b === null ? null : b / MiB;
      };
      expect(await quotaShares()).toBe(50);
      expect(await memLimitMiB()).toBe(96);

      // CPU burner (one busy loop ≈ 100 shares, throttled at 50) → the quota rises.
      const up = await measureReaction({
        trigger: () => c.setPhase({ kind: 'cpu', workers: 1 }),
        read: quotaShares,
        reached: (b, n) => b !== null && n !== null && n > b,
        timeoutMs: REACTION_BUDGET_MS,
      });
      expect(up).toMatchObject({ ok: true });
      process.stderr.write(
        `loop e2e: cpu up ${up.ok ? up.delayMs : '-'} ms → ${up.ok ? up.after : '-'} shares\n`,
      );
      // It keeps rising until the burner is no longer throttled (usage ≈ 100 below the upper limit).
      const raised = await waitUntil(async () => ((await quotaShares()) ?? 0) >= 100, 30_000);
      expect(raised).toBe(true);

      // Burner stopped → the quota falls to fit the (idle) usage, not below min.
      const highQuota = (await quotaShares()) as number;
      const down = await measureReaction({
        trigger: () => c.setPhase({ kind: 'idle' }),
        read: quotaShares,
        reached: (b, n) => b !== null && n !== null && n < b,
        timeoutMs: 40_000,
      });
      expect(down).toMatchObject({ ok: true });
      process.stderr.write(
        `loop e2e: cpu down ${down.ok ? down.delayMs : '-'} ms → ${down.ok ? down.after : '-'} shares\n`,
      );
      const fitted = (await quotaShares()) as number;
      expect(fitted).toBeLessThan(highQuota);
      expect(fitted).toBeLessThanOrEqual(60); // idle usage is a few shares: the fit is near min, far below 100

      // Memory growing to 320 MiB at 16 MiB/s from a 96 MiB limit → the limit rises first; no OOM kill.
      await c.setPhase({ kind: 'mem', totalMiB: 320, stepMiBPerSecond: 16 });
      const grown = await waitUntil(async () => {
        const s = await read();
        return s.memUsageBytes >= 300 * MiB;
      }, 60_000);
      expect(grown).toBe(true);
      expect(((await memLimitMiB()) as number) > 300).toBe(true);
      await c.setPhase({ kind: 'idle' });

      // The dashboard's history (structure.cpu.current, limit.cpu.upper) comes from every control tick,
      // not from the once-a-minute snapshoter: over the last minute, points a tick apart.
      const promUrl = loop.platform.endpoints.prometheus as string;
      await fetch(`${promUrl}/internal/force_flush`).then((r) => r.body?.cancel());
      const points = async (metric: string) => {
        const q = new URLSearchParams({ query: `${metric}{structure="${c.name}"}[60s]` });
        const res = (await (await fetch(`${promUrl}/api/v1/query?${q}`)).json()) as {
          data: { result: { values: unknown[] }[] };
        };
        return res.data.result[0]?.values.length ?? 0;
      };
      expect(await points('structure.cpu.current')).toBeGreaterThanOrEqual(10); // tuned: a tick every few seconds
      expect(await points('limit.cpu.upper')).toBeGreaterThanOrEqual(10);
    } finally {
      ac.abort();
      await sampling;
      await c.remove();
      await loop.stop();
    }

    // Throughout: no OOM kill; limits within [min, max] and the host's capacity.
    expect(samples.length).toBeGreaterThan(50);
    const hostShares = readCpuTopology().length * 100;
    const hostMiB = readMemTotalMiB();
    for (const s of samples) {
      expect(s.oomKills).toBe(0);
      const shares = (s.cpuQuotaUs / s.cpuPeriodUs) * 100;
      expect(shares).toBeGreaterThanOrEqual(SPEC.cpu.min);
      expect(shares).toBeLessThanOrEqual(Math.min(SPEC.cpu.max, hostShares));
      const memMiB = s.memLimitBytes / MiB;
      expect(memMiB).toBeGreaterThanOrEqual(SPEC.mem.min);
      expect(memMiB).toBeLessThanOrEqual(Math.min(SPEC.mem.max, hostMiB));
    }
  }, 180_000);
});

async function waitUntil(probe: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}
