import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { BYTES_PER_MIB } from '../../../host-agent/cgroup/plan.ts';
import {
  leaseHolds,
  lxcContainers,
  pidAlive,
  readLease,
  rearmNamed,
  rearmTree,
  removeLease,
  writeLease,
} from '../../../host-agent/oom-guard.ts';
import { type CgroupTree, makeCgroupTree } from '../../support/cgroup-tree.ts';

let tree: CgroupTree | null = null;
let dir: string | null = null;
afterEach(() => {
  tree?.cleanup();
  tree = null;
  if (dir !== null) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

describe('the OOM lease', () => {
  it('is written atomically, read back, and removed', () => {
    dir = mkdtempSync(join(tmpdir(), 'sc-lease-'));
    const path = join(dir, 'run', 'oom-lease'); // its directory is made on first write
    writeLease(path, { until: 5000, pid: process.pid, containers: ['a', 'b'] });
    expect(readLease(path)).toEqual({ until: 5000, pid: process.pid, containers: ['a', 'b'] });
    removeLease(path);
    expect(readLease(path)).toBeNull();
  });

  it('holds only until it expires and while its process lives', () => {
    const lease = { until: 5000, pid: 42, containers: ['a'] };
    expect(leaseHolds(lease, 5000, () => true)).toBe(true);
    expect(leaseHolds(lease, 5001, () => true)).toBe(false); // expired: agent hung or gone
    expect(leaseHolds(lease, 1000, () => false)).toBe(false); // pid gone (SIGKILL): at once
    expect(leaseHolds(null, 1000, () => true)).toBe(false);
    expect(pidAlive(process.pid)).toBe(true);
  });

  it('reads a malformed lease as none', () => {
    dir = mkdtempSync(join(tmpdir(), 'sc-lease-'));
    const path = join(dir, 'oom-lease');
    writeFileSync(path, '{"until":"soon","pid":1,"containers":[]}');
    expect(readLease(path)).toBeNull();
    writeFileSync(path, '{"until":5,"pid":1}'); // no container list: not a lease this agent writes
    expect(readLease(path)).toBeNull();
    writeFileSync(path, 'not json');
    expect(readLease(path)).toBeNull();
  });
});

describe('rearmNamed', () => {
  it('re-arms exactly the containers a lapsed lease names, never another', () => {
    const t = makeCgroupTree('v1');
    tree = t;
    t.addContainer('ours');
    t.addContainer('theirs');
    for (const c of ['ours', 'theirs'])
      t.write(c, 'memory', 'memory.oom_control', 'oom_kill_disable 1\nunder_oom 1\noom_kill 0\n');
    expect(rearmNamed(t.root, 'v1', ['ours', 'gone', '../x'])).toEqual(['ours']);
    expect(t.read('ours', 'memory', 'memory.oom_control').trim()).toBe('0');
    expect(t.read('theirs', 'memory', 'memory.oom_control')).toContain('oom_kill_disable 1');
  });
});

describe('rearmTree', () => {
  it('v1: turns oom_kill_disable back to 0 on every LXC container that has it on', () => {
    const t = makeCgroupTree('v1');
    tree = t;
    t.addContainer('a');
    t.addContainer('b');
    t.write('a', 'memory', 'memory.oom_control', 'oom_kill_disable 1\nunder_oom 1\noom_kill 0\n');
    expect(
      lxcContainers(t.root, 'v1')
        .map((c) => c.name)
        .sort(),
    ).toEqual(['a', 'b']);
    expect(rearmTree(t.root, 'v1')).toEqual(['a']); // b already armed: nothing written
    expect(t.read('a', 'memory', 'memory.oom_control').trim()).toBe('0');
  });

  it('v2: brings memory.max down to memory.high, and leaves a container without high alone', () => {
    const t = makeCgroupTree('v2');
    tree = t;
    t.addContainer('a');
    t.addContainer('b');
    t.write('a', 'unified', 'memory.high', `${256 * BYTES_PER_MIB}\n`);
    t.write('a', 'unified', 'memory.max', `${320 * BYTES_PER_MIB}\n`);
    expect(rearmTree(t.root, 'v2')).toEqual(['a']);
    expect(t.read('a', 'unified', 'memory.max').trim()).toBe(String(256 * BYTES_PER_MIB));
    expect(t.read('b', 'unified', 'memory.max').trim()).toBe('max');
  });
});
