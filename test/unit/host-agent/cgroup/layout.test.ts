import { afterEach, describe, expect, it } from '@jest/globals';
import {
  cgroupFile,
  detectCgroupVersion,
  insideDir,
  resolveContainerCgroup,
} from '../../../../host-agent/cgroup/layout.ts';
import { UnsafePathError } from '../../../../host-agent/errors.ts';
import { type CgroupTree, makeCgroupTree } from '../../../support/cgroup-tree.ts';

let tree: CgroupTree | null = null;
afterEach(() => {
  tree?.cleanup();
  tree = null;
});

describe('cgroup layout', () => {
  it.each(['v1', 'v2'] as const)('detects %s from the root', (v) => {
    tree = makeCgroupTree(v);
    expect(detectCgroupVersion(tree.root)).toBe(v);
  });

  it('finds lxc.payload.<name> first and the older lxc/<name> too', () => {
    tree = makeCgroupTree('v1');
    tree.addContainer('new1');
    tree.addContainer('old1', 'lxc/old1');
    expect(resolveContainerCgroup(tree.root, 'v1', 'new1')?.dirs.cpu).toBe(
      `${tree.root}/cpu/lxc.payload.new1`,
    );
    expect(resolveContainerCgroup(tree.root, 'v1', 'old1')?.dirs.memory).toBe(`${tree.root}/memory/lxc/old1`);
    expect(resolveContainerCgroup(tree.root, 'v1', 'absent')).toBeNull();
  });

  it.each(['../etc', '..', '.', 'a/b', 'a\0b', '', ' x', `${'a'.repeat(64)}`, '-x'])(
    'refuses the container name %j before touching the filesystem',
    (name) => {
      tree = makeCgroupTree('v2');
      expect(() => resolveContainerCgroup(tree?.root ?? '/', 'v2', name)).toThrow(UnsafePathError);
    },
  );

  it('keeps every resolved path inside its directory', () => {
    expect(insideDir('/sys/fs/cgroup/cpu', 'lxc.payload.a')).toBe('/sys/fs/cgroup/cpu/lxc.payload.a');
    expect(() => insideDir('/sys/fs/cgroup/cpu', '../memory/x')).toThrow(UnsafePathError);
    expect(() => insideDir('/sys/fs/cgroup/cpu', '/etc/passwd')).toThrow(UnsafePathError);
    const cg = { name: 'a', version: 'v1' as const, dirs: { cpu: '/cg/cpu/lxc.payload.a' } };
    expect(() => cgroupFile(cg, 'cpu', '../../tasks')).toThrow(UnsafePathError);
    expect(cgroupFile(cg, 'cpu', 'cpu.cfs_quota_us')).toBe('/cg/cpu/lxc.payload.a/cpu.cfs_quota_us');
  });
});
