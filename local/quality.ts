/**
 * Control quality from a container's cgroup v1 files: how much of what was
 * allocated was used (utilisation = ∫usage ÷ ∫allocation), how long the
 * container was throttled, and how many OOM kills it suffered — for a run under
 * the loop and a run with a fixed allocation at `max`, compared by
 * `utilisationGain` and `overheadPct`. Sampling reads files; the arithmetic is pure.
 *
 *   const samples = await sampleCgroup({ read: cgroupSampleReader(root, path), intervalMs: 1000, signal });
 *   const q = summarise(samples, { hostCores: 2, hostMemMiB: 24_000 });
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock } from '../adapters/clock.ts';
import type { Clock } from '../core/ports/clock.ts';

export interface CgroupSample {
  atMs: number;
  /** cpuacct.usage, ns since the cgroup was made */
  cpuUsageNs: number;
  /** cpu.cfs_quota_us (-1 = no quota) and cpu.cfs_period_us */
  cpuQuotaUs: number;
  cpuPeriodUs: number;
  /** cpu.stat throttled_time, ns */
  throttledNs: number;
  memUsageBytes: number;
  memLimitBytes: number;
  /** memory.oom_control oom_kill */
  oomKills: number;
}

export interface Quality {
  durationS: number;
  cpuUsedCoreS: number;
  cpuAllocatedCoreS: number;
  /** cpuUsedCoreS ÷ cpuAllocatedCoreS; null without allocation */
  cpuUtilisation: number | null;
  memUsedMiBS: number;
  memAllocatedMiBS: number;
  memUtilisation: number | null;
  throttledS: number;
  oomKills: number;
}

const MiB = 2 ** 20;

/**
 * Integrates samples interval by interval. Allocation over an interval is the
 * limit at its start (limits change in steps); an unlimited quota or a memory
 * limit above the host counts as the whole host.
 */
export function summarise(
  samples: readonly CgroupSample[],
  host: { hostCores: number; hostMemMiB: number },
): Quality {
  let cpuUsed = 0;
  let cpuAlloc = 0;
  let memUsed = 0;
  let memAlloc = 0;
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1] as CgroupSample;
    const b = samples[i] as CgroupSample;
    const dt = (b.atMs - a.atMs) / 1000;
    if (dt <= 0) continue;
    cpuUsed += Math.max(0, b.cpuUsageNs - a.cpuUsageNs) / 1e9;
    const cores = a.cpuQuotaUs < 0 ? host.hostCores : Math.min(host.hostCores, a.cpuQuotaUs / a.cpuPeriodUs);
    cpuAlloc += cores * dt;
    memUsed += ((a.memUsageBytes + b.memUsageBytes) / 2 / MiB) * dt;
    memAlloc += Math.min(host.hostMemMiB, a.memLimitBytes / MiB) * dt;
  }
  const first = samples[0];
  const last = samples.at(-1);
  return {
    durationS: first === undefined || last === undefined ? 0 : (last.atMs - first.atMs) / 1000,
    cpuUsedCoreS: cpuUsed,
    cpuAllocatedCoreS: cpuAlloc,
    cpuUtilisation: cpuAlloc > 0 ? cpuUsed / cpuAlloc : null,
    memUsedMiBS: memUsed,
    memAllocatedMiBS: memAlloc,
    memUtilisation: memAlloc > 0 ? memUsed / memAlloc : null,
    throttledS:
      first === undefined || last === undefined ? 0 : Math.max(0, last.throttledNs - first.throttledNs) / 1e9,
    oomKills: first === undefined || last === undefined ? 0 : Math.max(0, last.oomKills - first.oomKills),
  };
}

/** Relative utilisation gain of the scaled run over the fixed one: 0.77 = +77 %. */
export function utilisationGain(scaled: number, fixed: number): number {
  if (!(fixed > 0)) throw new RangeError('fixed utilisation must be positive');
  return scaled / fixed - 1;
}

/** Run-time overhead of the same job under scaling vs. a fixed allocation, percent. */
export function overheadPct(scaledRuntimeS: number, fixedRuntimeS: number): number {
  if (!(fixedRuntimeS > 0)) throw new RangeError('fixed run time must be positive');
  return (scaledRuntimeS / fixedRuntimeS - 1) * 100;
}

/**
 * The overhead of scaling on a single-threaded CPU-bound job, from the scaled run alone: the time
 * the quota held the job back (the cgroup's throttled time while it ran) over the time it would
 * have taken unthrottled (its run time less that), percent. A fixed allocation at max never
 * throttles such a job, so this is the paired overhead without the machine's run-to-run noise
 * (both figures come from the same run). Valid for one runnable thread: with more, throttled time
 * adds up over the CPUs the threads were throttled on.
 */
export function throttledOverheadPct(runS: number, throttledS: number): number {
  if (!(runS > 0) || throttledS < 0 || throttledS >= runS)
    throw new RangeError('need 0 ≤ throttled time < run time');
  return (throttledS / (runS - throttledS)) * 100;
}

/** What the CPU allocation did during one run (a job), from its samples: why a job took longer. */
export interface AllocationTimeline {
  /** cfs quota as shares (100 = one core) at the first sample; null = no quota */
  startShares: number | null;
  /** Seconds from the first sample to the first higher quota; null = never raised */
  firstRaiseS: number | null;
  /** Quota changes up and down during the run */
  raises: number;
  cuts: number;
  minShares: number | null;
  maxShares: number | null;
}

const shares = (s: CgroupSample): number | null =>
  s.cpuQuotaUs < 0 || s.cpuPeriodUs <= 0 ? null : (s.cpuQuotaUs / s.cpuPeriodUs) * 100;

export function allocationTimeline(samples: readonly CgroupSample[]): AllocationTimeline {
  const first = samples[0];
  const out: AllocationTimeline = {
    startShares: first === undefined ? null : shares(first),
    firstRaiseS: null,
    raises: 0,
    cuts: 0,
    minShares: null,
    maxShares: null,
  };
  for (let i = 0; i < samples.length; i++) {
    const b = samples[i] as CgroupSample;
    const v = shares(b);
    if (v !== null) {
      out.minShares = out.minShares === null ? v : Math.min(out.minShares, v);
      out.maxShares = out.maxShares === null ? v : Math.max(out.maxShares, v);
    }
    if (i === 0) continue;
    const a = samples[i - 1] as CgroupSample;
    const u = shares(a);
    if (u === null || v === null || u === v) continue;
    if (v > u) {
      out.raises += 1;
      if (out.firstRaiseS === null && first !== undefined) out.firstRaiseS = (b.atMs - first.atMs) / 1000;
    } else out.cuts += 1;
  }
  return out;
}

/** Run times of the same job, scaled and fixed, run alternately: the medians and their overhead. */
export interface PairedOverhead {
  scaledMedianS: number;
  fixedMedianS: number;
  /** overheadPct(scaledMedianS, fixedMedianS) */
  pct: number;
  /** Each pair's own overhead, percent (scaled run i against fixed run i) */
  pairsPct: number[];
}

export function pairedOverhead(scaledS: readonly number[], fixedS: readonly number[]): PairedOverhead {
  if (scaledS.length === 0 || scaledS.length !== fixedS.length)
    throw new RangeError('need as many fixed runs as scaled runs, at least one');
  const mid = (xs: readonly number[]) => {
    const sorted = [...xs].sort((x, y) => x - y);
    const n = sorted.length;
    return n % 2 === 1
      ? (sorted[(n - 1) / 2] as number)
      : ((sorted[n / 2 - 1] as number) + (sorted[n / 2] as number)) / 2;
  };
  const scaledMedianS = mid(scaledS);
  const fixedMedianS = mid(fixedS);
  return {
    scaledMedianS,
    fixedMedianS,
    pct: overheadPct(scaledMedianS, fixedMedianS),
    pairsPct: scaledS.map((s, i) => overheadPct(s, fixedS[i] as number)),
  };
}

function keyed(text: string, key: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${key} `));
  return line === undefined ? 0 : Number(line.slice(key.length + 1));
}

/** Reads one sample of a cgroup v1 container (`cgroupPath` below each controller). */
export function cgroupSampleReader(
  cgroupRoot: string,
  cgroupPath: string,
  clock: Clock = systemClock,
): () => Promise<CgroupSample> {
  const f = (controller: string, file: string) =>
    readFile(join(cgroupRoot, controller, cgroupPath, file), 'utf8');
  return async () => {
    const [usage, quota, period, stat, mem, limit, oom] = await Promise.all([
      f('cpuacct', 'cpuacct.usage'),
      f('cpu', 'cpu.cfs_quota_us'),
      f('cpu', 'cpu.cfs_period_us'),
      f('cpu', 'cpu.stat'),
      f('memory', 'memory.usage_in_bytes'),
      f('memory', 'memory.limit_in_bytes'),
      f('memory', 'memory.oom_control'),
    ]);
    return {
      atMs: clock.now(),
      cpuUsageNs: Number(usage),
      cpuQuotaUs: Number(quota),
      cpuPeriodUs: Number(period),
      throttledNs: keyed(stat, 'throttled_time'),
      memUsageBytes: Number(mem),
      memLimitBytes: Number(limit),
      oomKills: keyed(oom, 'oom_kill'),
    };
  };
}

/** Samples every `intervalMs` until aborted; resolves with every sample (one taken at abort). */
export async function sampleCgroup(opts: {
  read: () => Promise<CgroupSample>;
  intervalMs: number;
  signal: AbortSignal;
  clock?: Clock;
}): Promise<CgroupSample[]> {
  const clock = opts.clock ?? systemClock;
  const samples: CgroupSample[] = [];
  while (!opts.signal.aborted) {
    samples.push(await opts.read());
    await clock.sleep(opts.intervalMs, opts.signal);
  }
  samples.push(await opts.read());
  return samples;
}
