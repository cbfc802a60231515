import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Discovery, devToMajorMinor, parseLxcConfig } from '../../../host-agent/discovery.ts';
import { type CgroupTree, makeCgroupTree } from '../../support/cgroup-tree.ts';

let tree: CgroupTree | null = null;
afterEach(() => {
  tree?.cleanup();
  tree = null;
});

describe('parseLxcConfig', () => {
  it('reads the veth pair, the rootfs and bind mounts', () => {
    const cfg = parseLxcConfig(
      [
        '# comment',
        'lxc.net.0.type = veth',
        'lxc.net.0.veth.pair = vhc1',
        'lxc.rootfs.path = dir:/var/lib/lxc/c1/rootfs',
        'lxc.mount.entry = /lib lib none ro,bind 0 0',
        'lxc.mount.entry = /data/c1 opt/bind none bind,create=dir 0 0',
        'lxc.mount.entry = shm dev/shm tmpfs defaults 0 0',
      ].join('\n'),
    );
    expect(cfg).toEqual({
      vethPairs: ['vhc1'],
      rootfs: '/var/lib/lxc/c1/rootfs',
      mounts: [
        { source: '/lib', target: 'lib' },
        { source: '/data/c1', target: 'opt/bind' },
      ],
    });
  });
});

describe('devToMajorMinor', () => {
  it('decodes the kernel’s dev_t layout', () => {
    expect(devToMajorMinor(BigInt(254 * 256))).toBe('254:0'); // (254 << 8) | 0
    expect(devToMajorMinor(BigInt((8 << 8) | 17))).toBe('8:17');
    expect(devToMajorMinor((BigInt(259) << 8n) | (BigInt(300 >> 8) << 20n) | BigInt(300 & 0xff))).toBe(
      '259:300',
    );
  });
});

describe('Discovery', () => {
  it('lists configured containers with valid names only, and finds running ones with their veth', async () => {
    tree = makeCgroupTree('v2');
    const lxc = join(tree.root, 'lxc-path');
    for (const n of ['c1', 'c2', 'bad name']) {
      mkdirSync(join(lxc, n), { recursive: true });
      writeFileSync(join(lxc, n, 'config'), `lxc.net.0.veth.pair = vh${n.slice(0, 2)}\n`);
    }
    tree.addContainer('c1');
    const d = new Discovery({
      cgroupRoot: tree.root,
      version: 'v2',
      lxcPath: lxc,
      diskBindTarget: 'opt/bind',
    });
    expect(d.listConfigured()).toEqual(['c1', 'c2']);
    const found = await d.scan();
    expect([...found.keys()]).toEqual(['c1']);
    expect(found.get('c1')).toMatchObject({ veth: 'vhc1', pid: 4242 });
    await expect(d.find('../../etc')).rejects.toThrow('invalid container name');
  });
});
