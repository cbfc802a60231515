/**
 * The host as the agent finds it at start, for its heartbeat: online logical CPUs with socket
 * (physical_package_id) and physical core (core_id), their SMT siblings (thread_siblings_list),
 * MemTotal, and the whole block devices under /sys/block (not loop, ram, zram: no data lives
 * there). Roots are injectable so the parsing is tested on fixture trees. Unreadable parts give
 * null (the heartbeat then carries no topology), never a guess.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostTopologyReport } from '../core/contracts/report.ts';
import { compactCpuList, expandCpuList } from './cgroup/plan.ts';

const SECTOR_BYTES = 512;
const VIRTUAL_DISK = /^(loop|ram|zram)\d+$/;

function readInt(path: string): number {
  const n = Number(readFileSync(path, 'utf8').trim());
  if (!Number.isInteger(n) || n < 0) throw new Error(`${path}: not a non-negative integer`);
  return n;
}

/** The socket of a cpu: -1 (the kernel knows no package, e.g. user-mode-linux) is the one socket 0. */
function readPackage(path: string): number {
  const n = Number(readFileSync(path, 'utf8').trim());
  if (n === -1) return 0;
  if (!Number.isInteger(n) || n < 0) throw new Error(`${path}: not a package id`);
  return n;
}

export function readHostTopology(
  opts: { sysRoot?: string; meminfo?: string } = {},
): HostTopologyReport | null {
  const sys = opts.sysRoot ?? '/sys';
  try {
    const cpuRoot = join(sys, 'devices/system/cpu');
    const ids = expandCpuList(readFileSync(join(cpuRoot, 'online'), 'utf8'));
    if (ids === null || ids.length === 0) return null;
    const cpus = ids.map((id) => {
      const dir = join(cpuRoot, `cpu${id}`, 'topology');
      return {
        id: String(id),
        socket: readPackage(join(dir, 'physical_package_id')),
        core: readInt(join(dir, 'core_id')),
      };
    });
    const groups = new Map<string, string[]>();
    for (const id of ids) {
      const list = expandCpuList(
        readFileSync(join(cpuRoot, `cpu${id}`, 'topology', 'thread_siblings_list'), 'utf8'),
      );
      const online = (list ?? [id]).filter((s) => ids.includes(s));
      groups.set(compactCpuList(online), online.map(String));
    }
    const m = /^MemTotal:\s+(\d+) kB$/m.exec(readFileSync(opts.meminfo ?? '/proc/meminfo', 'utf8'));
    if (m === null) return null;
    const disks = readdirSync(join(sys, 'block'))
      .filter((name) => !VIRTUAL_DISK.test(name) && /^[A-Za-z0-9_.-]+$/.test(name))
      .sort()
      .flatMap((name) => {
        try {
          const device = readFileSync(join(sys, 'block', name, 'dev'), 'utf8').trim();
          const sectors = readInt(join(sys, 'block', name, 'size'));
          return [{ name, device, sizeMiB: Math.floor((sectors * SECTOR_BYTES) / 1_048_576) }];
        } catch {
          return [];
        }
      });
    return {
      cpus,
      smtSiblings: [...groups.values()].sort((a, b) => Number(a[0]) - Number(b[0])),
      memMiB: Math.floor(Number(m[1]) / 1024),
      disks,
    };
  } catch {
    return null;
  }
}
