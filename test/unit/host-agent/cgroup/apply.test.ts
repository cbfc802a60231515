import { afterEach, describe, expect, it } from '@jest/globals';
import { applyPlan, hasCpuset, readLimits, type Target } from '../../../../host-agent/cgroup/apply.ts';
import { resolveContainerCgroup } from '../../../../host-agent/cgroup/layout.ts';
import { BYTES_PER_MIB, type PlanContext, plan } from '../../../../host-agent/cgroup/plan.ts';
import type { NetShaper } from '../../../../host-agent/net/tc.ts';
import { type CgroupTree, makeCgroupTree } from '../../../support/cgroup-tree.ts';

function fakeShaper(): NetShaper & { rates: Map<string, number>; sets: number } {
  const rates = new Map<string, number>();
  const s = {
    rates,
    sets: 0,
    readMbps: async (dev: string) => rates.get(dev) ?? null,
    setMbps: async (dev: string, mbps: number) => {
      s.sets++;
      rates.set(dev, mbps);
    },
  };
  return s;
}

let tree: CgroupTree | null = null;
afterEach(() => {
  tree?.cleanup();
  tree = null;
});

function setup(version: 'v1' | 'v2'): { t: CgroupTree; target: Target; ctx: PlanContext } {
  const t = makeCgroupTree(version);
  tree = t;
  t.addContainer('c1');
  const cg = resolveContainerCgroup(t.root, version, 'c1');
  if (cg === null) throw new Error('no cgroup');
  return {
    t,
    target: { cg, veth: 'vethc1', diskDevice: '254:0' },
    ctx: {
      version,
      cpuPeriodUs: 100_000,
      hostCpus: ['0', '1'],
      hostMemMiB: 4096,
      diskDevice: '254:0',
      currentMemMiB: null,
      hasVeth: true,
    },
  };
}

describe.each(['v1', 'v2'] as const)('applier on a %s tree', (version) => {
  it('writes every file, reads it back, and reports the limits', async () => {
    const { target, ctx } = setup(version);
    const shaper = fakeShaper();
    const limits = { cpuShares: 150, cpuset: '1', memMiB: 256, diskReadMiBps: 10, netMbps: 40 };
    const result = await applyPlan(target, plan(limits, ctx), shaper);
    expect(result.issues).toEqual([]);
    expect(await readLimits(target, shaper)).toEqual({
      cpuShares: 150,
      cpuset: '1',
      memMiB: 256,
      diskReadMiBps: 10,
      diskWriteMiBps: null,
      netMbps: 40,
    });
  });

  it('writes nothing the second time (idempotent)', async () => {
    const { target, ctx } = setup(version);
    const shaper = fakeShaper();
    const limits = { cpuShares: 50, memMiB: 128, diskWriteMiBps: 3, netMbps: 10 };
    const first = await applyPlan(target, plan(limits, ctx), shaper);
    expect(first.written.length).toBeGreaterThan(0);
    const again = await applyPlan(target, plan(limits, { ...ctx, currentMemMiB: 128 }), shaper);
    expect(again.written).toEqual([]);
    expect(shaper.sets).toBe(1);
  });

  it('refuses a memory scale-down below the anonymous memory in use and keeps the old limit', async () => {
    const { t, target, ctx } = setup(version);
    const shaper = fakeShaper();
    await applyPlan(target, plan({ memMiB: 512 }, ctx), shaper);
    // 300 MiB of anonymous memory in use
    const anon = 300 * BYTES_PER_MIB;
    if (version === 'v1') t.write('c1', 'memory', 'memory.stat', `rss ${anon}\ntotal_rss ${anon}\n`);
    else t.write('c1', 'unified', 'memory.stat', `anon ${anon}\nfile 0\n`);
    const result = await applyPlan(target, plan({ memMiB: 256 }, { ...ctx, currentMemMiB: 512 }), shaper);
    expect(result.issues).toEqual([expect.objectContaining({ resource: 'mem', code: 'BELOW_USAGE' })]);
    expect((await readLimits(target, shaper)).memMiB).toBe(512);
    if (version === 'v2')
      expect(t.read('c1', 'unified', 'memory.high').trim()).toBe(String(512 * BYTES_PER_MIB));
  });

  it('reports a missing file as an issue and still applies the other resources', async () => {
    const { t, target, ctx } = setup(version);
    const shaper = fakeShaper();
    const { rmSync } = await import('node:fs');
    rmSync(t.path('c1', 'cpuset', 'cpuset.cpus'));
    const result = await applyPlan(target, plan({ cpuset: '0', memMiB: 64 }, ctx), shaper);
    expect(result.issues).toEqual([expect.objectContaining({ resource: 'cpu', code: 'NO_FILE' })]);
    expect((await readLimits(target, shaper)).memMiB).toBe(64);
  });
});

describe('applier, v2 specifics', () => {
  it('does not set memory.max while memory.current stays above it, and restores memory.high', async () => {
    const { t, target, ctx } = setup('v2');
    const shaper = fakeShaper();
    await applyPlan(target, plan({ memMiB: 512 }, ctx), shaper);
    t.write('c1', 'unified', 'memory.current', `${400 * BYTES_PER_MIB}\n`); // page cache the fake cannot reclaim
    const result = await applyPlan(target, plan({ memMiB: 256 }, { ...ctx, currentMemMiB: 512 }), shaper);
    expect(result.issues.map((i) => i.code)).toEqual(['BELOW_USAGE']);
    expect(t.read('c1', 'unified', 'memory.max').trim()).toBe(String(512 * BYTES_PER_MIB));
    expect(t.read('c1', 'unified', 'memory.high').trim()).toBe(String(512 * BYTES_PER_MIB));
  });

  it('applies the OOM guard: memory.max one raise above memory.high, read back as the limit, no drift', async () => {
    const { t, target, ctx } = setup('v2');
    const p = plan({ memMiB: 256 }, { ...ctx, currentMemMiB: null, memGrowMiB: 64 });
    const r = await applyPlan(target, p, fakeShaper());
    expect(r.issues).toEqual([]);
    expect(t.read('c1', 'unified', 'memory.high').trim()).toBe(String(256 * BYTES_PER_MIB));
    expect(t.read('c1', 'unified', 'memory.max').trim()).toBe(String(320 * BYTES_PER_MIB));
    expect((await readLimits(target, fakeShaper())).memMiB).toBe(256); // what the order asked: no drift
    // no room any more: max comes down to high, the same order otherwise
    const armed = plan({ memMiB: 256 }, { ...ctx, currentMemMiB: 256, memGrowMiB: 0 });
    expect((await applyPlan(target, armed, fakeShaper())).written).toEqual(['memory.max']);
    expect(t.read('c1', 'unified', 'memory.max').trim()).toBe(String(256 * BYTES_PER_MIB));
  });

  it('reads memory.high as the limit when memory.max sits above it (the OOM guard)', async () => {
    const { t, target } = setup('v2');
    t.write('c1', 'unified', 'memory.high', `${256 * BYTES_PER_MIB}\n`);
    t.write('c1', 'unified', 'memory.max', `${320 * BYTES_PER_MIB}\n`);
    expect((await readLimits(target, fakeShaper())).memMiB).toBe(256);
  });

  it('reads "max" files as no limit', async () => {
    const { target } = setup('v2');
    expect(await readLimits(target, fakeShaper())).toEqual({
      cpuShares: null,
      cpuset: null,
      memMiB: null,
      diskReadMiBps: null,
      diskWriteMiBps: null,
      netMbps: null,
    });
  });

  it('reads the cpus the kernel lets the container use from cpuset.cpus.effective', async () => {
    const { t, target } = setup('v2');
    t.write('c1', 'unified', 'cpuset.cpus', '\n'); // empty: inherits the parent's
    t.write('c1', 'unified', 'cpuset.cpus.effective', '0-1\n');
    expect((await readLimits(target, fakeShaper())).cpuset).toBe('0-1');
  });

  it('applies the other resources and writes no cpuset where the cgroup has no cpuset controller', async () => {
    const t = makeCgroupTree('v2');
    tree = t;
    t.addContainer('c2', undefined, { cpuset: false });
    const cg = resolveContainerCgroup(t.root, 'v2', 'c2');
    if (cg === null) throw new Error('no cgroup');
    expect(hasCpuset(cg)).toBe(false);
    const target = { cg, veth: null, diskDevice: null };
    const ctx: PlanContext = {
      version: 'v2',
      cpuPeriodUs: 100_000,
      hostCpus: ['0', '1'],
      hostMemMiB: 4096,
      diskDevice: null,
      currentMemMiB: null,
      hasVeth: false,
      cpusetController: hasCpuset(cg),
    };
    const result = await applyPlan(target, plan({ cpuShares: 50, cpuset: '' }, ctx), fakeShaper());
    expect(result.issues).toEqual([]);
    expect(t.read('c2', 'unified', 'cpu.max').trim()).toBe('50000 100000');
    expect((await readLimits(target, fakeShaper())).cpuset).toBeNull();
  });

  it('reads both keys of an io.max line', async () => {
    const { t, target } = setup('v2');
    t.write(
      'c1',
      'unified',
      'io.max',
      `254:0 rbps=${5 * BYTES_PER_MIB} wbps=${7 * BYTES_PER_MIB} riops=max wiops=max\n`,
    );
    const limits = await readLimits(target, fakeShaper());
    expect([limits.diskReadMiBps, limits.diskWriteMiBps]).toEqual([5, 7]);
  });
});
