/**
 * The side-effect half of the cgroup driver: writes a plan under the cgroup
 * root, reads every file back, skips files that already hold the value
 * (idempotent), and never forces a memory scale-down the kernel refuses
 * (EBUSY) or that would go below the memory the container uses.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { AppliedLimits } from '../../core/contracts/report.ts';
import { SHARES_PER_CORE } from '../../core/contracts/units.ts';
import type { NetShaper } from '../net/tc.ts';
import { type CgroupVersion, type ContainerCgroup, type Controller, cgroupFile } from './layout.ts';
import {
  BYTES_PER_MIB,
  type CgroupWrite,
  type Issue,
  OOM_CONTROL,
  type Plan,
  type Resource,
  readBackMatches,
  UNLIMITED_BYTES,
} from './plan.ts';

export interface ApplyResult {
  /** Files actually written (value differed). */
  written: string[];
  issues: Issue[];
  /** Resources the plan touched. */
  resources: Resource[];
}

export interface Target {
  cg: ContainerCgroup;
  veth: string | null;
  diskDevice: string | null;
}

function read(cg: ContainerCgroup, controller: Controller, file: string): string {
  return readFileSync(cgroupFile(cg, controller, file), 'utf8');
}

function tryRead(cg: ContainerCgroup, controller: Controller, file: string): string | null {
  try {
    return read(cg, controller, file);
  } catch {
    return null;
  }
}

function statValue(text: string | null, key: string): number | null {
  if (text === null) return null;
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m === null ? null : Number(m[1]);
}

/** Anonymous memory in use (what reclaim cannot drop), bytes; null if unreadable. */
export function anonBytes(cg: ContainerCgroup): number | null {
  return cg.version === 'v1'
    ? statValue(tryRead(cg, 'memory', 'memory.stat'), 'total_rss')
    : statValue(tryRead(cg, 'unified', 'memory.stat'), 'anon');
}

/** Whether the container's cgroup has the cpuset controller (v1: its hierarchy; v2: its cpuset.cpus file). */
export function hasCpuset(cg: ContainerCgroup): boolean {
  if (cg.version === 'v1') return cg.dirs.cpuset !== undefined;
  return tryRead(cg, 'unified', 'cpuset.cpus') !== null;
}

function errCode(err: unknown): string {
  return (err as { code?: string }).code ?? 'EIO';
}

export async function applyPlan(target: Target, plan: Plan, shaper: NetShaper): Promise<ApplyResult> {
  const { cg } = target;
  const written: string[] = [];
  const issues: Issue[] = [...plan.skipped];
  const failed = new Set<Resource>();
  const resources = [...new Set(plan.writes.map((w) => w.resource))];
  const prior = new Map<string, string>();

  const fail = (w: CgroupWrite, code: string, message: string) => {
    failed.add(w.resource);
    issues.push({ resource: w.resource === 'cpuset' ? 'cpu' : w.resource, code, message });
  };

  for (const w of plan.writes) {
    if (failed.has(w.resource)) continue;
    const before = tryRead(cg, w.controller, w.file);
    if (before === null) {
      fail(w, 'NO_FILE', `${w.file} is missing`);
      continue;
    }
    if (readBackMatches(w.file, w.value, before)) continue;
    if (w.resource === 'mem' && w.file !== OOM_CONTROL) {
      const refusal = memRefusal(cg, w, before);
      if (refusal !== null) {
        fail(w, refusal.code, refusal.message);
        restore(cg, plan.writes, w, prior);
        continue;
      }
    }
    prior.set(w.file, before.trim());
    try {
      writeFileSync(cgroupFile(cg, w.controller, w.file), w.value);
    } catch (err) {
      const code = errCode(err);
      fail(
        w,
        code,
        code === 'EBUSY'
          ? `the kernel refused ${w.file}=${w.value} (memory in use above it); the old limit stays`
          : `${w.file}=${w.value}: ${(err as Error).message}`,
      );
      restore(cg, plan.writes, w, prior);
      continue;
    }
    const after = tryRead(cg, w.controller, w.file) ?? '';
    if (!readBackMatches(w.file, w.value, after)) {
      fail(
        w,
        'READBACK',
        `${w.file} reads ${JSON.stringify(after.trim())} after writing ${JSON.stringify(w.value)}`,
      );
      continue;
    }
    written.push(w.file);
  }

  if (plan.netMbps !== null && target.veth !== null) {
    resources.push('net');
    try {
      const current = await shaper.readMbps(target.veth);
      if (current !== plan.netMbps) {
        await shaper.setMbps(target.veth, plan.netMbps);
        const after = await shaper.readMbps(target.veth);
        if (after !== plan.netMbps)
          issues.push({
            resource: 'net',
            code: 'READBACK',
            message: `tc reads ${after} Mbit/s, not ${plan.netMbps}`,
          });
        else written.push(`tc:${target.veth}`);
      }
    } catch (err) {
      issues.push({ resource: 'net', code: errCode(err), message: (err as Error).message });
    }
  }
  return { written, issues, resources };
}

/**
 * A memory write that must not happen: a v1 limit or a v2 memory.high/max below
 * the anonymous memory in use, or (v2) memory.max while memory.current is still
 * above the target after memory.high reclaimed what it could.
 */
function memRefusal(
  cg: ContainerCgroup,
  w: CgroupWrite,
  before: string,
): { code: string; message: string } | null {
  const target = Number(w.value);
  const current = before.trim() === 'max' ? Number.POSITIVE_INFINITY : Number(before.trim());
  if (!(target < current)) return null;
  const anon = anonBytes(cg);
  if (anon !== null && anon > target) {
    return {
      code: 'BELOW_USAGE',
      message: `${Math.ceil(anon / BYTES_PER_MIB)} MiB in use is above the asked ${target / BYTES_PER_MIB} MiB; the old limit stays`,
    };
  }
  if (cg.version === 'v2' && w.file === 'memory.max') {
    const used = Number((tryRead(cg, 'unified', 'memory.current') ?? '0').trim());
    if (used > target) {
      return {
        code: 'BELOW_USAGE',
        message: `memory.current ${Math.ceil(used / BYTES_PER_MIB)} MiB stays above the asked ${target / BYTES_PER_MIB} MiB; the old limit stays`,
      };
    }
  }
  return null;
}

/** Undo the earlier writes of the same resource (v2 memory.high before a refused memory.max). */
function restore(
  cg: ContainerCgroup,
  writes: readonly CgroupWrite[],
  failedWrite: CgroupWrite,
  prior: Map<string, string>,
) {
  for (const w of writes) {
    if (w === failedWrite) break;
    if (w.resource !== failedWrite.resource) continue;
    const old = prior.get(w.file);
    if (old === undefined) continue;
    try {
      writeFileSync(cgroupFile(cg, w.controller, w.file), old);
    } catch {
      // best effort: the report carries the issue and the limits as read back
    }
  }
}

function v1Bytes(text: string | null): number | null {
  if (text === null) return null;
  const n = Number(text.trim());
  return !Number.isFinite(n) || n < 0 || n >= UNLIMITED_BYTES ? null : n;
}

function deviceValue(text: string | null, dev: string | null, key?: string): number | null {
  if (text === null || dev === null) return null;
  const line = text.split('\n').find((l) => l.startsWith(`${dev} `));
  if (line === undefined) return null;
  const fields = line.trim().split(/\s+/).slice(1);
  const raw =
    key === undefined ? fields[0] : fields.find((f) => f.startsWith(`${key}=`))?.slice(key.length + 1);
  if (raw === undefined || raw === 'max') return null;
  const n = Number(raw);
  return Number.isFinite(n) ? n : null;
}

const mib = (bytes: number | null) => (bytes === null ? null : Math.floor(bytes / BYTES_PER_MIB));

/** The limits as the kernel holds them now (null = unlimited or unreadable). */
export async function readLimits(target: Target, shaper: NetShaper): Promise<AppliedLimits> {
  const { cg, diskDevice } = target;
  const v1 = cg.version === 'v1';
  let cpuShares: number | null = null;
  if (v1) {
    const quota = Number(tryRead(cg, 'cpu', 'cpu.cfs_quota_us')?.trim() ?? '-1');
    const period = Number(tryRead(cg, 'cpu', 'cpu.cfs_period_us')?.trim() ?? '0');
    if (quota > 0 && period > 0) cpuShares = Math.round((quota * SHARES_PER_CORE) / period);
  } else {
    const [q, p] = (tryRead(cg, 'unified', 'cpu.max') ?? 'max').trim().split(' ');
    if (q !== undefined && q !== 'max' && Number(p) > 0)
      cpuShares = Math.round((Number(q) * SHARES_PER_CORE) / Number(p));
  }
  // v2: the cpus the kernel lets it use (an empty cpuset.cpus inherits the parent's)
  const cpuset =
    (v1
      ? tryRead(cg, 'cpuset', 'cpuset.cpus')
      : (tryRead(cg, 'unified', 'cpuset.cpus.effective') ?? tryRead(cg, 'unified', 'cpuset.cpus'))
    )?.trim() ?? null;
  // v2: memory.high is the container's limit (memory.max may sit above it: the OOM guard, plan.ts).
  const high = v1 ? null : tryRead(cg, 'unified', 'memory.high');
  const memText = v1
    ? tryRead(cg, 'memory', 'memory.limit_in_bytes')
    : high !== null && high.trim() !== 'max'
      ? high
      : tryRead(cg, 'unified', 'memory.max');
  const memMiB = mib(memText?.trim() === 'max' ? null : v1Bytes(memText));
  const readBps = v1
    ? deviceValue(tryRead(cg, 'blkio', 'blkio.throttle.read_bps_device'), diskDevice)
    : deviceValue(tryRead(cg, 'unified', 'io.max'), diskDevice, 'rbps');
  const writeBps = v1
    ? deviceValue(tryRead(cg, 'blkio', 'blkio.throttle.write_bps_device'), diskDevice)
    : deviceValue(tryRead(cg, 'unified', 'io.max'), diskDevice, 'wbps');
  let netMbps: number | null = null;
  if (target.veth !== null) {
    try {
      netMbps = await shaper.readMbps(target.veth);
    } catch {
      netMbps = null;
    }
  }
  return {
    cpuShares,
    cpuset: cpuset === '' ? null : cpuset,
    memMiB,
    diskReadMiBps: mib(readBps),
    diskWriteMiBps: mib(writeBps),
    netMbps,
  };
}

export type { CgroupVersion };
