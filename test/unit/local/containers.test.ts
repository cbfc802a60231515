import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  createLxcWorkload,
  detectHostSupport,
  enableV2Controllers,
  phaseLine,
  readDemoLimits,
} from '../../../local/containers.ts';

function fakeCgroupRoot(writable: boolean): string {
  const root = mkdtempSync(join(tmpdir(), 'sc-cg-'));
  for (const c of ['cpu', 'memory']) {
    mkdirSync(join(root, c));
    writeFileSync(join(root, c, 'cgroup.procs'), '', { mode: writable ? 0o644 : 0o444 });
  }
  return root;
}

/** A v2 root as a 6.1 kernel shows it: controllers available, none enabled for children yet. */
function fakeV2Root(controllers = 'cpuset cpu io memory hugetlb pids rdma misc'): string {
  const root = mkdtempSync(join(tmpdir(), 'sc-cg2-'));
  writeFileSync(join(root, 'cgroup.controllers'), `${controllers}\n`);
  writeFileSync(join(root, 'cgroup.subtree_control'), '\n');
  writeFileSync(join(root, 'cgroup.procs'), '1\n');
  return root;
}

describe('phaseLine', () => {
  it('spells the phases the workload script reads', () => {
    expect(phaseLine({ kind: 'idle' })).toBe('idle');
    expect(phaseLine({ kind: 'cpu', workers: 2 })).toBe('cpu 2');
    expect(phaseLine({ kind: 'mem', totalMiB: 256, stepMiBPerSecond: 8 })).toBe('mem 256 8');
  });

  it('rejects fractional or missing amounts, naming the field', () => {
    expect(() => phaseLine({ kind: 'cpu', workers: 0 })).toThrow(/phase\.workers/);
    expect(() => phaseLine({ kind: 'mem', totalMiB: 1.5, stepMiBPerSecond: 1 })).toThrow(/phase\.totalMiB/);
  });
});

describe('detectHostSupport', () => {
  it('runs dry when not root, and says so', async () => {
    const s = await detectHostSupport({ uid: 1000, cgroupRoot: fakeCgroupRoot(true), which: () => true });
    expect(s.mode).toBe('dry-run');
    expect(s.reason).toMatch(/not running as root/);
  });

  it('falls back to plain cgroups when LXC is missing, naming what to install', async () => {
    const s = await detectHostSupport({
      uid: 0,
      cgroupRoot: fakeCgroupRoot(true),
      which: (b) => !b.startsWith('lxc-'),
    });
    expect(s.mode).toBe('plain-cgroups');
    expect(s.reason).toMatch(/lxc-create.*apt-get install -y lxc/);
  });

  it('runs for real on a v2-only host: LXC when it is installed, else plain v2 cgroups', async () => {
    const lxc = await detectHostSupport({ uid: 0, cgroupRoot: fakeV2Root(), which: () => true });
    expect(lxc).toMatchObject({ mode: 'lxc', cgroup: 'v2' });
    const plain = await detectHostSupport({
      uid: 0,
      cgroupRoot: fakeV2Root(),
      which: (b) => !b.startsWith('lxc-'),
    });
    expect(plain).toMatchObject({ mode: 'plain-cgroups', cgroup: 'v2' });
  });

  it('runs dry on v2 when the cpu or memory controller is missing, naming it', async () => {
    const noMemory = await detectHostSupport({
      uid: 0,
      cgroupRoot: fakeV2Root('cpu io pids'),
      which: () => true,
    });
    expect(noMemory).toMatchObject({ mode: 'dry-run', cgroup: 'v2' });
    expect(noMemory.reason).toMatch(/no memory controller/);
  });

  it('runs dry without cgroup v1 controllers', async () => {
    const s = await detectHostSupport({
      uid: 0,
      cgroupRoot: join(tmpdir(), 'no-such-cgroup-root'),
      which: () => true,
    });
    expect(s.mode).toBe('dry-run');
    expect(s.reason).toMatch(/neither cgroup v2 nor writable cgroup v1/);
  });

  it('chooses LXC when everything is there', async () => {
    const s = await detectHostSupport({ uid: 0, cgroupRoot: fakeCgroupRoot(true), which: () => true });
    expect(s.mode).toBe('lxc');
  });
});

describe('createLxcWorkload', () => {
  it('rejects a name that cannot be a cgroup directory before touching anything', async () => {
    await expect(createLxcWorkload('../etc')).rejects.toThrow(/container\.name/);
  });
});

describe('enableV2Controllers', () => {
  it('enables the cpu, memory, io and pids controllers the kernel has, and only the missing ones', async () => {
    const root = fakeV2Root('cpu io memory pids'); // no cpuset: a uniprocessor kernel (user-mode-linux)
    expect(await enableV2Controllers(root)).toEqual(['cpu', 'memory', 'io', 'pids']);
    expect(readFileSync(join(root, 'cgroup.subtree_control'), 'utf8')).toBe('+cpu +memory +io +pids');
    writeFileSync(join(root, 'cgroup.subtree_control'), 'cpu memory\n');
    await enableV2Controllers(root);
    expect(readFileSync(join(root, 'cgroup.subtree_control'), 'utf8')).toBe('+io +pids');
  });
});

describe('readDemoLimits', () => {
  it('reads cpu.max and memory.max on v2, "max" as none', async () => {
    const root = fakeV2Root();
    mkdirSync(join(root, 'lxc.payload.d1'));
    writeFileSync(join(root, 'lxc.payload.d1', 'cpu.max'), '50000 100000\n');
    writeFileSync(join(root, 'lxc.payload.d1', 'memory.max'), 'max\n');
    expect(await readDemoLimits('lxc.payload.d1', { cgroupRoot: root })).toEqual({
      quotaUs: 50_000,
      periodUs: 100_000,
      memBytes: null,
    });
  });
  it('reads cfs_quota_us and limit_in_bytes on v1, -1 and the unlimited value as none', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sc-cg1-'));
    mkdirSync(join(root, 'cpu', 'd1'), { recursive: true });
    mkdirSync(join(root, 'memory', 'd1'), { recursive: true });
    writeFileSync(join(root, 'cpu', 'd1', 'cpu.cfs_quota_us'), '-1\n');
    writeFileSync(join(root, 'cpu', 'd1', 'cpu.cfs_period_us'), '100000\n');
    writeFileSync(join(root, 'memory', 'd1', 'memory.limit_in_bytes'), '9223372036854771712\n');
    expect(await readDemoLimits('d1', { cgroupRoot: root })).toEqual({
      quotaUs: null,
      periodUs: 100_000,
      memBytes: null,
    });
  });
});
