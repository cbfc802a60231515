import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { readHostTopology } from '../../../host-agent/topology.ts';

/** A /sys and /proc/meminfo fixture: `cpus` as [id, socket, core, siblings]. */
function fixture(
  cpus: [number, number, number, string][],
  online: string,
): { sysRoot: string; meminfo: string } {
  const root = mkdtempSync(join(tmpdir(), 'sc-topo-'));
  const sysRoot = join(root, 'sys');
  const cpuRoot = join(sysRoot, 'devices/system/cpu');
  mkdirSync(cpuRoot, { recursive: true });
  writeFileSync(join(cpuRoot, 'online'), `${online}\n`);
  for (const [id, socket, core, siblings] of cpus) {
    const dir = join(cpuRoot, `cpu${id}`, 'topology');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'physical_package_id'), `${socket}\n`);
    writeFileSync(join(dir, 'core_id'), `${core}\n`);
    writeFileSync(join(dir, 'thread_siblings_list'), `${siblings}\n`);
  }
  for (const [name, dev, sectors] of [
    ['vda', '254:0', 536870912],
    ['loop0', '7:0', 2048],
    ['nvme0n1', '259:0', 2097152],
  ] as const) {
    mkdirSync(join(sysRoot, 'block', name), { recursive: true });
    writeFileSync(join(sysRoot, 'block', name, 'dev'), `${dev}\n`);
    writeFileSync(join(sysRoot, 'block', name, 'size'), `${sectors}\n`);
  }
  const meminfo = join(root, 'meminfo');
  writeFileSync(meminfo, 'MemTotal:        8167876 kB\nMemFree:         1000 kB\n');
  return { sysRoot, meminfo };
}

describe('readHostTopology', () => {
  it('reports sockets, cores and SMT siblings of the online cpus, memory and the real disks', () => {
    // 2 sockets × 1 core × 2 threads: cpus 0,2 share socket 0 core 0; 1,3 socket 1 core 0
    const f = fixture(
      [
        [0, 0, 0, '0,2'],
        [1, 1, 0, '1,3'],
        [2, 0, 0, '0,2'],
        [3, 1, 0, '1,3'],
      ],
      '0-3',
    );
    expect(readHostTopology(f)).toEqual({
      cpus: [
        { id: '0', socket: 0, core: 0 },
        { id: '1', socket: 1, core: 0 },
        { id: '2', socket: 0, core: 0 },
        { id: '3', socket: 1, core: 0 },
      ],
      smtSiblings: [
        ['0', '2'],
        ['1', '3'],
      ],
      memMiB: 7976, // 8167876 kB / 1024, rounded down
      disks: [
        { name: 'nvme0n1', device: '259:0', sizeMiB: 1024 }, // 2097152 × 512 B
        { name: 'vda', device: '254:0', sizeMiB: 262144 },
      ],
    });
  });

  it('puts cpus whose package the kernel does not know (-1, as user-mode-linux shows) on socket 0', () => {
    const f = fixture([[0, -1, 0, '0']], '0');
    expect(readHostTopology(f)?.cpus).toEqual([{ id: '0', socket: 0, core: 0 }]);
  });

  it('leaves offline siblings out', () => {
    const f = fixture(
      [
        [0, 0, 0, '0-1'],
        [1, 0, 0, '0-1'],
      ],
      '0',
    );
    expect(readHostTopology(f)?.smtSiblings).toEqual([['0']]);
  });

  it('reports nothing rather than a guess when sysfs is unreadable', () => {
    expect(readHostTopology({ sysRoot: join(tmpdir(), 'no-such-sys'), meminfo: '/proc/meminfo' })).toBeNull();
  });
});
