/**
 * The pure half of the cgroup driver: from the limits an order asks for and the
 * layout of the host, the files to write and the values to write into them
 * (v1 or v2), in the order they must be written. No fs, no clock.
 */

import type { z } from 'zod';
import type { OrderLimits } from '../../core/contracts/order.ts';
import type { ApplyIssue } from '../../core/contracts/report.ts';
import { SHARES_PER_CORE } from '../../core/contracts/units.ts';
import { AbsurdValueError } from '../errors.ts';
import type { CgroupVersion, Controller } from './layout.ts';

export const BYTES_PER_MIB = 1_048_576;
/** Mbit as BDWatchdog counts it (bytes × 8 / 2^20), so limits and usage share one unit. */
export const BITS_PER_MBIT = 1_048_576;
/** The kernel's smallest CFS quota, µs. */
export const MIN_CFS_QUOTA_US = 1000;
/** v1 reads an unlimited memory limit as a page-rounded LLONG_MAX; anything this large is "no limit". */
export const UNLIMITED_BYTES = 2 ** 62;

export type Resource = 'cpu' | 'cpuset' | 'mem' | 'disk_read' | 'disk_write' | 'net';
export type Issue = z.infer<typeof ApplyIssue>;

export interface CgroupWrite {
  resource: Resource;
  controller: Controller;
  file: string;
  value: string;
}

/** What the planner needs to know about the host and the container. */
export interface PlanContext {
  version: CgroupVersion;
  cpuPeriodUs: number;
  /** Logical CPU ids of the host, e.g. ["0","1"]. */
  hostCpus: readonly string[];
  hostMemMiB: number;
  /** "major:minor" of the block device backing the container's data, or null if unknown. */
  diskDevice: string | null;
  /** The container's current memory limit (for the order of v2 writes), null = unlimited/unknown. */
  currentMemMiB: number | null;
  /** Whether the container has a host-side veth to shape. */
  hasVeth: boolean;
  /**
   * How far the container's memory may still grow right now (the memory fast path's next raise,
   * within its max and the host's free memory; 0 = it cannot grow, or no fast path is there to
   * grow it). Given: the plan also sets the OOM guard (oomGuardWrites). Left out: memory writes
   * are the limit alone (the kernel's defaults for the OOM killer stay as they are).
   */
  memGrowMiB?: number;
  /**
   * v2: whether the container's cgroup has the cpuset controller (its cpuset.cpus exists); a v2
   * host need not delegate it (and a uniprocessor kernel has none). Absent = assume it does.
   */
  cpusetController?: boolean;
}

export interface Plan {
  writes: CgroupWrite[];
  /** tc rate to set on the host-side veth, if asked. */
  netMbps: number | null;
  /** Resources that cannot be applied here (reported, not fatal). */
  skipped: Issue[];
}

/** Expand a cpuset list ("0-2,5") into sorted ids; null if malformed. */
export function expandCpuList(list: string): number[] | null {
  const text = list.trim();
  if (text === '') return [];
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (m === null) return null;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b - a > 4096) return null;
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

/** Canonical kernel form of a set of cpu ids: "0-2,5". */
export function compactCpuList(ids: readonly number[]): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const start = sorted[i] as number;
    let end = start;
    while (i + 1 < sorted.length && sorted[i + 1] === end + 1) end = sorted[++i] as number;
    parts.push(start === end ? `${start}` : `${start}-${end}`);
    i++;
  }
  return parts.join(',');
}

function absurd(field: string, message: string): never {
  throw new AbsurdValueError(`order.limits.${field}: ${message}`, { context: { field } });
}

/** Refuse values no host could take or this host cannot: the whole order is refused, nothing written. */
export function checkLimits(limits: OrderLimits, ctx: PlanContext): void {
  const hostShares = ctx.hostCpus.length * SHARES_PER_CORE;
  const nonNegInt = (field: string, v: number | undefined) => {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0))
      absurd(field, `${v} is not a whole number ≥ 0`);
  };
  nonNegInt('cpuShares', limits.cpuShares);
  nonNegInt('memMiB', limits.memMiB);
  nonNegInt('diskReadMiBps', limits.diskReadMiBps);
  nonNegInt('diskWriteMiBps', limits.diskWriteMiBps);
  nonNegInt('netMbps', limits.netMbps);
  if (limits.cpuShares !== undefined && limits.cpuShares > hostShares)
    absurd('cpuShares', `${limits.cpuShares} is beyond the host's ${hostShares} shares`);
  if (limits.cpuShares !== undefined && (limits.cpuShares * ctx.cpuPeriodUs) / 100 < MIN_CFS_QUOTA_US)
    absurd('cpuShares', `${limits.cpuShares} gives a quota under the kernel's ${MIN_CFS_QUOTA_US} µs`);
  if (limits.memMiB !== undefined && limits.memMiB > ctx.hostMemMiB)
    absurd('memMiB', `${limits.memMiB} is beyond the host's ${ctx.hostMemMiB} MiB`);
  if (limits.cpuset !== undefined) {
    const ids = expandCpuList(limits.cpuset);
    if (ids === null) absurd('cpuset', `${JSON.stringify(limits.cpuset)} is not a cpu list`);
    const host = new Set(ctx.hostCpus.map(Number));
    const missing = ids.filter((i) => !host.has(i));
    if (missing.length > 0) absurd('cpuset', `cpus ${missing.join(',')} are not on this host`);
  }
  const maxMiBps = 1_048_576; // 1 TiB/s: beyond any device
  for (const f of ['diskReadMiBps', 'diskWriteMiBps'] as const) {
    const v = limits[f];
    if (v !== undefined && v > maxMiBps) absurd(f, `${v} MiB/s is beyond any device`);
  }
  if (limits.netMbps !== undefined && limits.netMbps > 4_000_000)
    absurd('netMbps', `${limits.netMbps} Mbit/s is beyond any link`);
}

export const OOM_CONTROL = 'memory.oom_control';

/**
 * The OOM guard of a container limited to `memMiB` whose memory may still grow
 * by `growMiB` (0: it may not). DESIGN: memory never meets the OOM killer while
 * it may still grow; the killer is the fallback when no growth is possible.
 * - v1: `memory.oom_control` = 1 (oom_kill_disable: a task that hits the limit
 *   stalls until the limit is raised) while growth is possible, else 0 (the
 *   kernel kills, and a task already stalled is killed now instead of hanging).
 * - v2 has no such switch: `memory.high` (= memMiB) is where the kernel throttles
 *   and reclaims, and `memory.max` sits `growMiB` above it — exactly the limit
 *   the fast path would raise to next, so the kernel never lets a container past
 *   what the agent would grant anyway, while the throttle (the kernel sleeps
 *   allocators over `high`, up to 2 s per attempt) gives the fast path, woken by
 *   the `high` events, the time to raise both. No growth: max = high.
 * Pure; the order of the writes is part of the plan (see plan()).
 */
export function oomGuardWrites(version: CgroupVersion, memMiB: number, growMiB: number): CgroupWrite[] {
  const grow = Math.max(0, Math.floor(growMiB));
  if (version === 'v1')
    return [{ resource: 'mem', controller: 'memory', file: OOM_CONTROL, value: grow > 0 ? '1' : '0' }];
  return [
    {
      resource: 'mem',
      controller: 'unified',
      file: 'memory.max',
      value: `${(memMiB + grow) * BYTES_PER_MIB}`,
    },
  ];
}

/** The writes that bring a container to `limits`, in order. Throws AbsurdValueError for values to refuse. */
export function plan(limits: OrderLimits, ctx: PlanContext): Plan {
  checkLimits(limits, ctx);
  const writes: CgroupWrite[] = [];
  const skipped: Issue[] = [];
  const v1 = ctx.version === 'v1';

  if (limits.cpuShares !== undefined) {
    const quota = Math.round((limits.cpuShares * ctx.cpuPeriodUs) / SHARES_PER_CORE);
    if (v1) {
      writes.push({
        resource: 'cpu',
        controller: 'cpu',
        file: 'cpu.cfs_period_us',
        value: `${ctx.cpuPeriodUs}`,
      });
      writes.push({ resource: 'cpu', controller: 'cpu', file: 'cpu.cfs_quota_us', value: `${quota}` });
    } else {
      writes.push({
        resource: 'cpu',
        controller: 'unified',
        file: 'cpu.max',
        value: `${quota} ${ctx.cpuPeriodUs}`,
      });
    }
  }
  if (limits.cpuset !== undefined) {
    const ids = expandCpuList(limits.cpuset) ?? [];
    const value = ids.length === 0 ? compactCpuList(ctx.hostCpus.map(Number)) : compactCpuList(ids);
    if (!v1 && ctx.cpusetController === false) {
      // Without the controller the container already runs on every cpu: only a pin is lost.
      if (ids.length > 0)
        skipped.push({
          resource: 'cpu',
          code: 'NO_CPUSET',
          message: 'the cgroup has no cpuset controller (not in its parent’s cgroup.subtree_control)',
        });
    } else
      writes.push({ resource: 'cpuset', controller: v1 ? 'cpuset' : 'unified', file: 'cpuset.cpus', value });
  }
  if (limits.memMiB !== undefined) {
    const bytes = `${limits.memMiB * BYTES_PER_MIB}`;
    const guarded = ctx.memGrowMiB !== undefined;
    if (v1) {
      writes.push({ resource: 'mem', controller: 'memory', file: 'memory.limit_in_bytes', value: bytes });
      // After the limit: a raise is in place before the stall ends; at max the killer is back at once.
      if (guarded) writes.push(...oomGuardWrites('v1', limits.memMiB, ctx.memGrowMiB ?? 0));
    } else {
      const down = ctx.currentMemMiB === null || limits.memMiB < ctx.currentMemMiB;
      const high: CgroupWrite = { resource: 'mem', controller: 'unified', file: 'memory.high', value: bytes };
      const max: CgroupWrite = guarded
        ? (oomGuardWrites('v2', limits.memMiB, ctx.memGrowMiB ?? 0)[0] as CgroupWrite)
        : { resource: 'mem', controller: 'unified', file: 'memory.max', value: bytes };
      // Down: throttle and reclaim through memory.high first, so memory.max never has to OOM-kill.
      // Up: memory.max first, so high never sits above max.
      writes.push(...(down ? [high, max] : [max, high]));
    }
  }
  const disk: { resource: 'disk_read' | 'disk_write'; v1File: string; v2Key: string; bps: number }[] = [];
  for (const [field, resource, v1File, v2Key] of [
    ['diskReadMiBps', 'disk_read', 'blkio.throttle.read_bps_device', 'rbps'],
    ['diskWriteMiBps', 'disk_write', 'blkio.throttle.write_bps_device', 'wbps'],
  ] as const) {
    const v = limits[field];
    if (v === undefined) continue;
    if (ctx.diskDevice === null) {
      skipped.push({
        resource,
        code: 'NO_DEVICE',
        message: 'no block device found for the container’s data',
      });
      continue;
    }
    disk.push({ resource, v1File, v2Key, bps: v * BYTES_PER_MIB });
  }
  if (v1) {
    for (const d of disk)
      writes.push({
        resource: d.resource,
        controller: 'blkio',
        file: d.v1File,
        value: `${ctx.diskDevice} ${d.bps}`,
      });
  } else if (disk.length > 0) {
    // One io.max line per device holds every key; keys left out keep their value.
    const first = disk[0] as (typeof disk)[number];
    writes.push({
      resource: first.resource,
      controller: 'unified',
      file: 'io.max',
      // 0 lifts the limit, as on v1 (the kernel answers ERANGE to rbps=0)
      value: `${ctx.diskDevice} ${disk.map((d) => `${d.v2Key}=${d.bps === 0 ? 'max' : d.bps}`).join(' ')}`,
    });
  }
  let netMbps: number | null = null;
  if (limits.netMbps !== undefined) {
    if (ctx.hasVeth) netMbps = limits.netMbps;
    else skipped.push({ resource: 'net', code: 'NO_VETH', message: 'the container has no host-side veth' });
  }
  return { writes, netMbps, skipped };
}

/**
 * Whether what a cgroup file reads back holds what was written — in the kernel's
 * own format (cpu lists compacted, per-device files listing several devices,
 * io.max listing every key).
 */
export function readBackMatches(file: string, written: string, readBack: string): boolean {
  const got = readBack.trim();
  if (file === OOM_CONTROL) return (/^oom_kill_disable (\d)$/m.exec(got)?.[1] ?? got) === written.trim();
  if (file === 'cpuset.cpus') {
    const a = expandCpuList(written);
    const b = expandCpuList(got);
    return a !== null && b !== null && compactCpuList(a) === compactCpuList(b);
  }
  if (file.startsWith('blkio.throttle.')) {
    const [dev, bps] = written.split(' ');
    const line = got.split('\n').find((l) => l.startsWith(`${dev} `));
    return line !== undefined ? line.split(' ')[1] === bps : bps === '0';
  }
  if (file === 'io.max') {
    // The kernel lists every key of a device's line, and drops the line when all are max.
    const [dev, ...kvs] = written.trim().split(/\s+/);
    const line = got.split('\n').find((l) => l.startsWith(`${dev} `));
    const have = line === undefined ? [] : line.trim().split(/\s+/).slice(1);
    return kvs.every((kv) => have.includes(kv) || (line === undefined && kv.endsWith('=max')));
  }
  return got === written.trim();
}
