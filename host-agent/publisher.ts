/**
 * Usage publisher (optional mode, for hosts without BDWatchdog): every few
 * seconds, sample each container's cgroup counters and put the rates to an
 * OpenTSDB-compatible /api/put under BDWatchdog's names and units — CPU in
 * shares (100 = one core), memory in MiB, disk in MiB/s, network in Mbit/s —
 * tagged host=<container>, with pid/command tags as BDWatchdog sends them.
 *
 * Points carry epoch-millisecond timestamps (13 digits; OpenTSDB 2.x and
 * VictoriaMetrics' OpenTSDB listener both store them to the millisecond): a
 * point stamped with the instant its sample was taken falls in the usage
 * window that really contains it, and two samples within one second (a
 * sub-second period, BDWatchdog's 0.2 s flushes) do not collide on one
 * whole-second timestamp, which OpenTSDB would overwrite and VictoriaMetrics'
 * de-duplication would drop.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../adapters/logger.ts';
import { MetricsWriteError, OpenTsdbPutSink } from '../adapters/opentsdb-put.ts';
import { SHARES_PER_CORE } from '../core/contracts/units.ts';
import { AGENT_CPU_METRIC } from '../core/policy/idle-evidence.ts';
import { type ContainerCgroup, cgroupFile } from './cgroup/layout.ts';
import { BITS_PER_MBIT, BYTES_PER_MIB } from './cgroup/plan.ts';

/** Cumulative counters of one container at one instant. */
export interface UsageSample {
  atMs: number;
  cpuUserNs: number | null;
  cpuKernelNs: number | null;
  residentBytes: number | null;
  diskReadBytes: number | null;
  diskWriteBytes: number | null;
  /** Bytes into the container (host-side veth tx) and out of it (veth rx). */
  netInBytes: number | null;
  netOutBytes: number | null;
}

export interface OpenTsdbPoint {
  metric: string;
  /** Epoch milliseconds. */
  timestamp: number;
  value: number;
  tags: Record<string, string>;
}

/** USER_HZ: the unit of cpuacct.stat. */
const USER_HZ = 100;

function tryRead(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function keyed(text: string | null, key: string): number | null {
  if (text === null) return null;
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m === null ? null : Number(m[1]);
}

function file(
  cg: ContainerCgroup,
  controller: Parameters<typeof cgroupFile>[1],
  name: string,
): string | null {
  try {
    return tryRead(cgroupFile(cg, controller, name));
  } catch {
    return null;
  }
}

/** Sum "Read"/"Write" lines of a v1 io_service_bytes file over devices. */
export function sumBlkio(text: string | null, op: 'Read' | 'Write'): number | null {
  if (text === null) return null;
  let total = 0;
  for (const line of text.split('\n')) {
    const [dev, o, v] = line.trim().split(/\s+/);
    if (dev?.includes(':') && o === op) total += Number(v);
  }
  return total;
}

/** Sum rbytes/wbytes of a v2 io.stat over devices. */
export function sumIoStat(text: string | null, key: 'rbytes' | 'wbytes'): number | null {
  if (text === null) return null;
  let total = 0;
  for (const m of text.matchAll(new RegExp(`\\b${key}=(\\d+)`, 'g'))) total += Number(m[1]);
  return total;
}

export function sampleUsage(
  cg: ContainerCgroup,
  veth: string | null,
  atMs: number,
  sysClassNet = '/sys/class/net',
): UsageSample {
  let cpuUserNs: number | null = null;
  let cpuKernelNs: number | null = null;
  let residentBytes: number | null = null;
  let diskReadBytes: number | null = null;
  let diskWriteBytes: number | null = null;
  if (cg.version === 'v1') {
    const u = file(cg, 'cpuacct', 'cpuacct.usage_user');
    const s = file(cg, 'cpuacct', 'cpuacct.usage_sys');
    if (u !== null && s !== null) {
      cpuUserNs = Number(u.trim());
      cpuKernelNs = Number(s.trim());
    } else {
      const stat = file(cg, 'cpuacct', 'cpuacct.stat');
      const user = keyed(stat, 'user');
      const sys = keyed(stat, 'system');
      cpuUserNs = user === null ? null : (user * 1e9) / USER_HZ;
      cpuKernelNs = sys === null ? null : (sys * 1e9) / USER_HZ;
    }
    residentBytes = keyed(file(cg, 'memory', 'memory.stat'), 'total_rss');
    const io =
      file(cg, 'blkio', 'blkio.throttle.io_service_bytes_recursive') ??
      file(cg, 'blkio', 'blkio.throttle.io_service_bytes');
    diskReadBytes = sumBlkio(io, 'Read');
    diskWriteBytes = sumBlkio(io, 'Write');
  } else {
    const stat = file(cg, 'unified', 'cpu.stat');
    const user = keyed(stat, 'user_usec');
    const sys = keyed(stat, 'system_usec');
    cpuUserNs = user === null ? null : user * 1000;
    cpuKernelNs = sys === null ? null : sys * 1000;
    residentBytes = keyed(file(cg, 'unified', 'memory.stat'), 'anon');
    const io = file(cg, 'unified', 'io.stat');
    diskReadBytes = sumIoStat(io, 'rbytes');
    diskWriteBytes = sumIoStat(io, 'wbytes');
  }
  let netInBytes: number | null = null;
  let netOutBytes: number | null = null;
  if (veth !== null && /^[A-Za-z0-9_.-]{1,15}$/.test(veth)) {
    const tx = tryRead(join(sysClassNet, veth, 'statistics/tx_bytes'));
    const rx = tryRead(join(sysClassNet, veth, 'statistics/rx_bytes'));
    netInBytes = tx === null ? null : Number(tx.trim());
    netOutBytes = rx === null ? null : Number(rx.trim());
  }
  return {
    atMs,
    cpuUserNs,
    cpuKernelNs,
    residentBytes,
    diskReadBytes,
    diskWriteBytes,
    netInBytes,
    netOutBytes,
  };
}

const rate = (a: number | null, b: number | null, seconds: number) =>
  a === null || b === null || b < a ? null : (b - a) / seconds;

/** Points in BDWatchdog's names and units from two samples of one container. Pure. */
export function toPoints(
  container: string,
  prev: UsageSample,
  now: UsageSample,
  tags: { pid: number | null },
): OpenTsdbPoint[] {
  const seconds = (now.atMs - prev.atMs) / 1000;
  if (seconds <= 0) return [];
  const timestamp = Math.round(now.atMs);
  const baseTags = { host: container, pid: String(tags.pid ?? 0), command: 'container' };
  const nsToShares = (nsPerS: number | null) => (nsPerS === null ? null : (nsPerS / 1e9) * SHARES_PER_CORE);
  const user = nsToShares(rate(prev.cpuUserNs, now.cpuUserNs, seconds));
  const kernel = nsToShares(rate(prev.cpuKernelNs, now.cpuKernelNs, seconds));
  const values: [string, number | null][] = [
    ['proc.cpu.user', user],
    ['proc.cpu.kernel', kernel],
    ['proc.mem.resident', now.residentBytes === null ? null : now.residentBytes / BYTES_PER_MIB],
    ['proc.disk.reads.mb', mibps(rate(prev.diskReadBytes, now.diskReadBytes, seconds))],
    ['proc.disk.writes.mb', mibps(rate(prev.diskWriteBytes, now.diskWriteBytes, seconds))],
    ['proc.net.tcp.in.mb', mbps(rate(prev.netInBytes, now.netInBytes, seconds))],
    ['proc.net.tcp.out.mb', mbps(rate(prev.netOutBytes, now.netOutBytes, seconds))],
    // The agent's own evidence that the container runs and how much CPU it used (idle vs absent).
    [AGENT_CPU_METRIC, user === null || kernel === null ? null : user + kernel],
  ];
  return values
    .filter((v): v is [string, number] => v[1] !== null && Number.isFinite(v[1]))
    .map(([metric, value]) => ({ metric, timestamp, value: Math.round(value * 100) / 100, tags: baseTags }));
}

const mibps = (bytesPerS: number | null) => (bytesPerS === null ? null : bytesPerS / BYTES_PER_MIB);
const mbps = (bytesPerS: number | null) => (bytesPerS === null ? null : (bytesPerS * 8) / BITS_PER_MBIT);

export interface PublisherDeps {
  url: string;
  log: Logger;
  now(): number;
  containers(): Iterable<{ name: string; cg: ContainerCgroup; veth: string | null; pid: number | null }>;
  fetch?: typeof fetch;
  /** Put BDWatchdog's proc.* series (default); false: only the agent's own AGENT_CPU_METRIC series. */
  usage?: boolean;
}

export class UsagePublisher {
  private readonly d: PublisherDeps;
  private readonly prev = new Map<string, UsageSample>();
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  /** gzip bodies under OpenTSDB's 8 KiB limit, `?details` so refused points are reported. */
  private readonly sink: OpenTsdbPutSink;

  constructor(deps: PublisherDeps) {
    this.d = deps;
    this.sink = new OpenTsdbPutSink(deps.url, {
      timeoutMs: 3000,
      deadlineMs: 3000,
      ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
    });
  }

  start(periodMs: number): void {
    if (this.timer !== null) return;
    void this.tick();
    this.timer = setInterval(() => {
      if (this.inFlight !== null) return;
      this.inFlight = this.tick().then(
        () => undefined,
        () => undefined,
      );
      void this.inFlight.finally(() => {
        this.inFlight = null;
      });
    }, periodMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.inFlight;
  }

  /** Sample everything once and put the points; returns how many were sent. */
  async tick(): Promise<number> {
    const points: OpenTsdbPoint[] = [];
    const seen = new Set<string>();
    for (const c of this.d.containers()) {
      seen.add(c.name);
      const now = sampleUsage(c.cg, c.veth, this.d.now());
      const prev = this.prev.get(c.name);
      this.prev.set(c.name, now);
      if (prev === undefined) continue;
      const all = toPoints(c.name, prev, now, { pid: c.pid });
      points.push(...(this.d.usage === false ? all.filter((p) => p.metric === AGENT_CPU_METRIC) : all));
    }
    for (const name of [...this.prev.keys()]) if (!seen.has(name)) this.prev.delete(name);
    if (points.length === 0) return 0;
    try {
      await this.sink.put(points);
    } catch (err) {
      if (err instanceof MetricsWriteError && err.failed.length > 0) {
        // The TSD stored the others: say which it refused, and why.
        this.d.log.warn(
          { refused: err.failed.length, of: points.length, sample: err.failed.slice(0, 3) },
          'usage points refused by the TSD',
        );
        return points.length - err.failed.length;
      }
      this.d.log.warn({ err: (err as Error).message }, 'usage put failed');
      return 0;
    }
    return points.length;
  }
}
