import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { createLxcWorkload, detectHostSupport, phaseLine } from '../../../local/containers.ts';

function fakeCgroupRoot(writable: boolean): string {
  const root = mkdtempSync(join(tmpdir(), 'sc-cg-'));
  for (const c of ['cpu', 'memory']) {
    mkdirSync(join(root, c));
    writeFileSync(join(root, c, 'cgroup.procs'), '', { mode: writable ? 0o644 : 0o444 });
  }
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

  it('runs dry without cgroup v1 controllers', async () => {
    const s = await detectHostSupport({
      uid: 0,
      cgroupRoot: join(tmpdir(), 'no-such-cgroup-root'),
      which: () => true,
    });
    expect(s.mode).toBe('dry-run');
    expect(s.reason).toMatch(/not writable/);
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
