/**
 * This machine as a host registration (the API's `PUT /hosts/{host}` body):
 * the online logical CPUs with their socket and physical core from
 * /sys/devices/system/cpu, and MemTotal from /proc/meminfo. Roots are
 * injectable so the parsing is tested on fixture trees.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { CoreTopology } from '../core/contracts/host.ts';
import { NAME_PATTERN } from '../core/contracts/names.ts';
import { expandCpuList } from '../host-agent/cgroup/plan.ts';

export interface HostRegistrationBody {
  cpu: { topology: CoreTopology[] };
  memMiB: number;
  cpuPlacement: 'pinned' | 'shared';
}

function readInt(path: string): number {
  const n = Number(readFileSync(path, 'utf8').trim());
  if (!Number.isInteger(n) || n < 0) throw new Error(`${path}: not a non-negative integer`);
  return n;
}

/** Online CPUs with socket (physical_package_id) and core (core_id); SMT siblings share a core id. */
export function readCpuTopology(sysCpuRoot = '/sys/devices/system/cpu'): CoreTopology[] {
  const ids = expandCpuList(readFileSync(join(sysCpuRoot, 'online'), 'utf8'));
  if (ids === null || ids.length === 0) throw new Error(`${sysCpuRoot}/online lists no CPU`);
  return ids.map((id) => {
    const dir = join(sysCpuRoot, `cpu${id}`, 'topology');
    const pkg = join(dir, 'physical_package_id');
    return {
      id: String(id),
      // -1: the kernel knows no package (e.g. user-mode-linux): the one socket 0
      socket: readFileSync(pkg, 'utf8').trim() === '-1' ? 0 : readInt(pkg),
      core: readInt(join(dir, 'core_id')),
    };
  });
}

/** MemTotal in MiB (rounded down). */
export function readMemTotalMiB(meminfo = '/proc/meminfo'): number {
  const m = /^MemTotal:\s+(\d+) kB$/m.exec(readFileSync(meminfo, 'utf8'));
  if (m === null) throw new Error(`${meminfo}: no MemTotal line`);
  return Math.floor(Number(m[1]) / 1024);
}

export function thisHostRegistration(
  opts: { sysCpuRoot?: string; meminfo?: string; cpuPlacement?: 'pinned' | 'shared' } = {},
): HostRegistrationBody {
  return {
    cpu: { topology: readCpuTopology(opts.sysCpuRoot) },
    memMiB: readMemTotalMiB(opts.meminfo),
    cpuPlacement: opts.cpuPlacement ?? 'pinned',
  };
}

/** The machine's host name as a valid structure name (invalid characters become "-"). */
export function thisHostName(name = hostname()): string {
  const cleaned = name
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 63);
  const out = cleaned === '' ? 'localhost' : cleaned;
  if (!NAME_PATTERN.test(out)) throw new Error(`cannot make a host name of "${name}"`);
  return out;
}
