/**
 * Idle is data, end to end (root, cgroup v1, LXC): a container whose processes
 * all sleep uses exactly 0 CPU; the agent publishes 0 (not nothing), the
 * Guardian reads 0, and the default down rule (`usage >= 0`, issue 14) scales
 * it down. With the old `usage > 0` guard it kept its allocation for ever.
 * The tuned config (1 s windows, three down events) keeps it short.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CGROUP_V1_ROOT } from '../../../local/containers.ts';
import { type RunningLoop, startLoop } from '../../../local/loop.ts';
import { cgroupFileReader } from '../../../local/reaction.ts';
import { createContainer, isRoot, sweepLeftovers, type TestContainer } from '../support/lxc.ts';

let loop: RunningLoop;
let ct: TestContainer;
const ac = new AbortController();

beforeAll(async () => {
  if (!isRoot()) throw new Error('the host suite needs root (real cgroups and LXC)');
  await sweepLeftovers();
  loop = await startLoop({ config: 'tuned', signal: ac.signal, dashboard: false });
  ct = await createContainer('idle'); // busybox init and nothing else: every process sleeps
}, 120_000);

afterAll(async () => {
  ac.abort();
  await ct?.destroy();
  await loop?.stop();
}, 60_000);

describe('a container at exactly 0 CPU usage', () => {
  it('is scaled down to fit its usage', async () => {
    const cgroupPath = `lxc.payload.${ct.name}`;
    const quotaShares = async () => {
      const q = await cgroupFileReader(CGROUP_V1_ROOT, cgroupPath, 'cpu', 'cpu.cfs_quota_us')();
      return q === null ? null : q / 1000; // period 100 000 µs: 1000 µs = 1 share
    };
    await loop.guard(
      { name: ct.name, cgroupPath },
      { cpu: { min: 25, current: 100, max: 150 }, mem: { min: 64, current: 128, max: 512 } },
    );
    expect(await quotaShares()).toBe(100);
    const t0 = Date.now();
    let fitted: number | null = null;
    while (Date.now() - t0 < 60_000) {
      const q = await quotaShares();
      if (q !== null && q < 100) {
        fitted = q;
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(fitted).not.toBeNull();
    expect(fitted).toBeGreaterThanOrEqual(25); // never below min
    process.stderr.write(`idle e2e: cpu 100 → ${fitted} shares in ${Date.now() - t0} ms\n`);
    // the premise: what the agent published for it was exactly 0, not a little
    const promUrl = loop.platform.endpoints.prometheus as string;
    await fetch(`${promUrl}/internal/force_flush`).then((r) => r.body?.cancel());
    const q = new URLSearchParams({
      query: `max_over_time({__name__=~"proc.cpu.user|proc.cpu.kernel",host="${ct.name}"}[10s])`,
    });
    const res = (await (await fetch(`${promUrl}/api/v1/query?${q}`)).json()) as {
      data: { result: { value: [number, string] }[] };
    };
    expect(res.data.result.length).toBe(2); // both series present: idle is published, not absent
    for (const r of res.data.result) expect(Number(r.value[1])).toBe(0);
  }, 120_000);
});
