/**
 * The OOM guard's side effects, shared by the agent and the watchdog that
 * outlives it (host-agent/oom-watchdog.ts).
 *
 * While a guarded container's memory may still grow, the agent keeps the
 * kernel from killing it at its limit (plan.ts oomGuardWrites: v1
 * oom_kill_disable=1, v2 memory.max above memory.high) and the memory fast
 * path raises the limit. That is only safe while the agent is there to raise:
 * a stall the agent never answers hangs the container for ever. So:
 *
 * - **Lease**: the agent renews a lease file (`{ until, pid, containers }`,
 *   written atomically) on every memory-watch poll, at most a third of its
 *   length apart, and before any guard write; `containers` names every
 *   container it watches. It only disables the OOM killer while its lease is
 *   written, and only for containers the lease names.
 * - **Watchdog**: a separate tiny process (its own systemd unit) reads the lease
 *   every ≤ 500 ms; when it has expired, or its pid is gone (SIGKILL, crash,
 *   OOM of the agent itself), it re-arms the OOM killer of the containers the
 *   lease names (rearmNamed): v1 oom_kill_disable=0, v2 memory.max =
 *   memory.high. A task stalled at that moment is then killed by the kernel
 *   within the next poll. No lease file: nothing was disarmed (the agent never
 *   held one, or stopped cleanly: it re-arms, then removes it).
 *   Why a lease and not only systemd's ExecStopPost: ExecStopPost runs when the
 *   agent exits (SIGKILL included) but not when it hangs alive (event loop
 *   stuck, its store unreachable), and not on hosts without systemd; the lease
 *   covers all of them. The unit also runs `--rearm-now` as ExecStopPost so a
 *   stopped agent re-arms at once.
 * - **The agent itself** re-arms every container when it stops, when its lease
 *   write fails, when a stall outlasts STALL_MAX_MS without a raise, and at start
 *   before anything else (a stall left by a previous agent is resolved first:
 *   handed to the kernel); guard passes after each reconciliation disarm again
 *   where growth is possible.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  type CgroupVersion,
  type ContainerCgroup,
  cgroupFile,
  resolveContainerCgroup,
} from './cgroup/layout.ts';
import { type CgroupWrite, readBackMatches } from './cgroup/plan.ts';

export interface OomLease {
  /** Epoch ms after which the agent is presumed gone. */
  until: number;
  /** The agent's pid: a lease whose process is gone is expired at once. */
  pid: number;
  /** The containers the agent may have disarmed: what the watchdog re-arms when the lease lapses. */
  containers: string[];
}

/** Write the lease atomically (a reader never sees half a file). */
export function writeLease(path: string, lease: OomLease): void {
  const tmp = `${path}.${process.pid}.tmp`;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(tmp, JSON.stringify(lease));
  renameSync(tmp, path);
}

export function removeLease(path: string): void {
  rmSync(path, { force: true });
}

/** The lease, or null when absent or unreadable (both: expired). */
export function readLease(path: string): OomLease | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<OomLease>;
    const containers = Array.isArray(v.containers) ? v.containers.filter((c) => typeof c === 'string') : null;
    return typeof v.until === 'number' &&
      Number.isSafeInteger(v.pid) &&
      (v.pid ?? 0) > 0 &&
      containers !== null
      ? { until: v.until, pid: v.pid as number, containers }
      : null;
  } catch {
    return null;
  }
}

/** Whether a process exists (signal 0 only checks). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the lease still holds at `nowMs`. Pure given `alive`. */
export function leaseHolds(lease: OomLease | null, nowMs: number, alive: (pid: number) => boolean): boolean {
  return lease !== null && nowMs <= lease.until && alive(lease.pid);
}

/**
 * Write what differs of `writes` into the container's cgroup, reading each file first (idempotent).
 * Returns the files written; throws on a failed write.
 */
export function writeGuard(cg: ContainerCgroup, writes: readonly CgroupWrite[]): string[] {
  const written: string[] = [];
  for (const w of writes) {
    const path = cgroupFile(cg, w.controller, w.file);
    if (readBackMatches(w.file, w.value, readFileSync(path, 'utf8'))) continue;
    writeFileSync(path, w.value);
    written.push(w.file);
  }
  return written;
}

/** The writes that hand a container back to the kernel's OOM killer, from what its files hold now. */
export function rearmWrites(cg: ContainerCgroup): CgroupWrite[] {
  if (cg.version === 'v1')
    return [{ resource: 'mem', controller: 'memory', file: 'memory.oom_control', value: '0' }];
  const high = readFileSync(cgroupFile(cg, 'unified', 'memory.high'), 'utf8').trim();
  if (high === 'max') return []; // no throttle point set by us: memory.max is the limit as it is
  return [{ resource: 'mem', controller: 'unified', file: 'memory.max', value: high }];
}

/** Re-arm one container; returns whether anything was written (never throws). */
export function rearm(cg: ContainerCgroup): boolean {
  try {
    return writeGuard(cg, rearmWrites(cg)).length > 0;
  } catch {
    return false;
  }
}

/** Every LXC container's cgroup on this host (LXC ≥ 4 names: lxc.payload.<name>). */
export function lxcContainers(root: string, version: CgroupVersion): ContainerCgroup[] {
  const base = version === 'v1' ? join(root, 'memory') : root;
  let names: string[];
  try {
    names = readdirSync(base).filter((n) => n.startsWith('lxc.payload.'));
  } catch {
    return [];
  }
  const out: ContainerCgroup[] = [];
  for (const dir of names) {
    try {
      const cg = resolveContainerCgroup(root, version, dir.slice('lxc.payload.'.length));
      if (cg !== null) out.push(cg);
    } catch {
      // a name the agent would refuse is not one it guards
    }
  }
  return out;
}

/** Re-arm every LXC container of the host; returns the names re-armed. */
export function rearmTree(root: string, version: CgroupVersion): string[] {
  return lxcContainers(root, version)
    .filter((cg) => rearm(cg))
    .map((cg) => cg.name);
}

/** Re-arm the named containers (a lapsed lease's list); returns the names re-armed. */
export function rearmNamed(root: string, version: CgroupVersion, names: readonly string[]): string[] {
  const out: string[] = [];
  for (const name of names) {
    try {
      const cg = resolveContainerCgroup(root, version, name);
      if (cg !== null && rearm(cg)) out.push(name);
    } catch {
      // a name that is not a container name was never guarded
    }
  }
  return out;
}
