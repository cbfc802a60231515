import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import {
  readCpuTopology,
  readMemTotalMiB,
  thisHostName,
  thisHostRegistration,
} from '../../../local/topology.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A /sys/devices/system/cpu tree: cpu id → [socket, core]. */
function cpuTree(online: string, cpus: Record<number, [number, number]>): string {
  const root = mkdtempSync(join(tmpdir(), 'sc-topo-'));
  dirs.push(root);
  writeFileSync(join(root, 'online'), `${online}\n`);
  for (const [id, [socket, core]] of Object.entries(cpus)) {
    const t = join(root, `cpu${id}`, 'topology');
    mkdirSync(t, { recursive: true });
    writeFileSync(join(t, 'physical_package_id'), `${socket}\n`);
    writeFileSync(join(t, 'core_id'), `${core}\n`);
  }
  return root;
}

describe('readCpuTopology', () => {
  it('puts a cpu whose package the kernel does not know (-1, user-mode-linux) on socket 0', () => {
    expect(readCpuTopology(cpuTree('0', { 0: [-1, 0] }))).toEqual([{ id: '0', socket: 0, core: 0 }]);
  });

  it('lists the online CPUs with socket and core, SMT siblings sharing a core', () => {
    const root = cpuTree('0-1,3', { 0: [0, 0], 1: [0, 0], 2: [0, 1], 3: [1, 4] });
    expect(readCpuTopology(root)).toEqual([
      { id: '0', socket: 0, core: 0 },
      { id: '1', socket: 0, core: 0 },
      { id: '3', socket: 1, core: 4 },
    ]);
  });

  it('refuses a tree without online CPUs', () => {
    expect(() => readCpuTopology(cpuTree('', {}))).toThrow(/lists no CPU/);
  });
});

describe('readMemTotalMiB', () => {
  it('reads MemTotal in MiB, rounded down', () => {
    const root = mkdtempSync(join(tmpdir(), 'sc-mem-'));
    dirs.push(root);
    writeFileSync(join(root, 'meminfo'), 'MemTotal:       24684092 kB\nMemFree:  1 kB\n');
    expect(readMemTotalMiB(join(root, 'meminfo'))).toBe(24105); // 24684092 / 1024 = 24105.55
  });
});

describe('thisHostRegistration', () => {
  it('is a pinned registration of every online CPU and the memory', () => {
    const root = cpuTree('0-1', { 0: [0, 0], 1: [0, 1] });
    writeFileSync(join(root, 'meminfo'), 'MemTotal: 2048 kB\n');
    expect(thisHostRegistration({ sysCpuRoot: root, meminfo: join(root, 'meminfo') })).toEqual({
      cpu: {
        topology: [
          { id: '0', socket: 0, core: 0 },
          { id: '1', socket: 0, core: 1 },
        ],
      },
      memMiB: 2,
      cpuPlacement: 'pinned',
    });
  });
});

describe('thisHostName', () => {
  it('keeps valid names and replaces what a structure name cannot hold', () => {
    expect(thisHostName('vm')).toBe('vm');
    expect(thisHostName('my host@lab')).toBe('my-host-lab');
    expect(thisHostName('-x')).toBe('x');
    expect(thisHostName('')).toBe('localhost');
    expect(thisHostName('a'.repeat(80))).toHaveLength(63);
  });
});
