/**
 * The memory emergency fast path: poll each container's OOM and pressure
 * signals (v1 memory.oom_control + memory.failcnt, v2 memory.events) every few
 * tens of ms; on a new OOM event, or limit hits while anonymous memory fills
 * the limit, raise memory at once within the container's max and the host's
 * free memory — accounted on the HostState item with a versioned write — then
 * apply and report, so the policy catches up later.
 *
 * One stall, one raise: after a raise the container settles for `settleMs`.
 * The kernel only clears v1 `under_oom` once the woken task runs again (late on
 * a busy host), and v2 counts one `oom` per failed charge while the victim
 * exits, so during the settle window each poll re-baselines instead of
 * comparing. Only a fresh stall (under_oom 0 → 1: the task retried at the
 * raised limit and stalled again) raises inside the window; a stall still held
 * when the window ends means the raise was not enough and raises again. A
 * no-room answer or a failure settles too (one host-item read per window).
 *
 * The OOM guard (oom-guard.ts, plan.ts oomGuardWrites): while the watch runs and
 * its lease is written, a container whose memory may still grow (room below
 * its max and on the host, as the last host read said) has the OOM killer off
 * (v1) or memory.max one raise above memory.high (v2), so a step at the limit
 * stalls or is throttled and this path raises instead of the kernel killing.
 * When it cannot grow (at max, host full: a no-room answer), a stall outlasts
 * STALL_MAX_MS, or the watch stops, the container is handed back to the killer.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from '../adapters/logger.ts';
import type { HostState } from '../core/contracts/host.ts';
import { StaleStateError } from '../core/errors.ts';
import type { Clock } from '../core/ports/clock.ts';
import { anonBytes } from './cgroup/apply.ts';
import { type ContainerCgroup, cgroupFile } from './cgroup/layout.ts';
import { BYTES_PER_MIB, oomGuardWrites, UNLIMITED_BYTES } from './cgroup/plan.ts';
import { readLease, rearm, removeLease, writeGuard, writeLease } from './oom-guard.ts';
import { desiredLimits, type OrderService } from './orders.ts';
import type { AgentStateStore } from './state.ts';

/** Counters read from the kernel; monotonic except underOom. */
export interface MemSignals {
  oomKills: number;
  ooms: number;
  /** v1 failcnt / v2 events "max": times the limit was hit. */
  limitHits: number;
  underOom: boolean;
  limitBytes: number | null;
  anonBytes: number | null;
}

const KEY_PATTERNS = new Map<string, RegExp>();

function num(text: string, key: string): number {
  let re = KEY_PATTERNS.get(key);
  if (re === undefined) {
    re = new RegExp(`^${key} (\\d+)$`, 'm');
    KEY_PATTERNS.set(key, re);
  }
  const m = re.exec(text);
  return m === null ? 0 : Number(m[1]);
}

/** The checked paths of the files polled, per cgroup (this runs every SC_AGENT_MEM_WATCH_MS). */
const WATCHED_FILES = new WeakMap<ContainerCgroup, readonly string[]>();

function watchedFiles(cg: ContainerCgroup): readonly string[] {
  let files = WATCHED_FILES.get(cg);
  if (files === undefined) {
    files =
      cg.version === 'v1'
        ? [
            cgroupFile(cg, 'memory', 'memory.oom_control'),
            cgroupFile(cg, 'memory', 'memory.limit_in_bytes'),
            cgroupFile(cg, 'memory', 'memory.failcnt'),
          ]
        : [
            cgroupFile(cg, 'unified', 'memory.events'),
            cgroupFile(cg, 'unified', 'memory.max'),
            cgroupFile(cg, 'unified', 'memory.high'),
          ];
    WATCHED_FILES.set(cg, files);
  }
  return files;
}

export function readMemSignals(cg: ContainerCgroup): MemSignals | null {
  try {
    const [a = '', b = '', c = ''] = watchedFiles(cg);
    if (cg.version === 'v1') {
      const oc = readFileSync(a, 'utf8');
      const lim = Number(readFileSync(b, 'utf8').trim());
      return {
        oomKills: num(oc, 'oom_kill'),
        ooms: 0,
        limitHits: Number(readFileSync(c, 'utf8').trim()),
        underOom: num(oc, 'under_oom') === 1,
        limitBytes: lim >= UNLIMITED_BYTES ? null : lim,
        anonBytes: null,
      };
    }
    const ev = readFileSync(a, 'utf8');
    const max = readFileSync(b, 'utf8').trim();
    const high = readFileSync(c, 'utf8').trim();
    // memory.high is the limit when set (the throttle point; max may sit above it: the OOM guard),
    // and its events wake the fast path like those of max.
    const limit = high !== 'max' ? high : max;
    return {
      oomKills: num(ev, 'oom_kill'),
      ooms: num(ev, 'oom'),
      limitHits: num(ev, 'max') + num(ev, 'high'),
      underOom: false,
      limitBytes: limit === 'max' ? null : Number(limit),
      anonBytes: null,
    };
  } catch {
    return null;
  }
}

/** Share of the limit anonymous memory must fill for limit hits to count as pressure (not page cache). */
export const ANON_PRESSURE_SHARE = 0.9;

/** How long a container settles after a raise before held signals count again (see the file comment). */
export const RAISE_SETTLE_MS = 1000;

/** A v1 stall held this long with no raise landing is handed to the OOM killer. */
export const STALL_MAX_MS = 5000;

/** What the last host read said about a container's memory: desired current, max, the host's free memory. */
export interface GrowRoom {
  currentMiB: number;
  maxMiB: number;
  hostFreeMiB: number;
}

/**
 * How far a container limited to `memMiB` may still grow right now: 0 when the
 * fast path would find no room (its desired memory at max, or the host full —
 * it raises from the desired state), else its next raise from `memMiB`. Pure.
 */
export function growRoomMiB(
  memMiB: number,
  room: GrowRoom | undefined,
  pct: number,
  minStepMiB: number,
): number {
  if (room === undefined) return 0;
  if (raisedMemMiB(room.currentMiB, room.maxMiB, room.hostFreeMiB, pct, minStepMiB) === null) return 0;
  const next = raisedMemMiB(memMiB, room.maxMiB, room.hostFreeMiB, pct, minStepMiB);
  return next === null ? 0 : next - memMiB;
}

/**
 * Whether the change from `prev` to `now` is an emergency. `settling`: a raise
 * finished less than the settle window ago, so only a fresh stall counts. Pure.
 */
export function isEmergency(prev: MemSignals, now: MemSignals, settling = false): boolean {
  if (now.limitBytes === null) return false;
  if (settling) return now.underOom && !prev.underOom;
  if (now.underOom || now.oomKills > prev.oomKills || now.ooms > prev.ooms) return true;
  return (
    now.limitHits > prev.limitHits &&
    now.anonBytes !== null &&
    now.anonBytes >= ANON_PRESSURE_SHARE * now.limitBytes
  );
}

/** The raised memory for a container, within its max and the host's free memory; null if no room. Pure. */
export function raisedMemMiB(
  currentMiB: number,
  maxMiB: number,
  hostFreeMiB: number,
  pct: number,
  minStepMiB: number,
): number | null {
  const step = Math.max(minStepMiB, Math.ceil((currentMiB * pct) / 100));
  const next = Math.min(currentMiB + step, maxMiB, currentMiB + hostFreeMiB);
  return next > currentMiB ? next : null;
}

export interface MemoryWatchDeps {
  host: string;
  store: AgentStateStore;
  orders: OrderService;
  clock: Clock;
  log: Logger;
  raisePct: number;
  raiseMinMiB: number;
  /** Settle window after a raise, ms (default RAISE_SETTLE_MS). */
  settleMs?: number;
  /** Containers to watch and their cgroups (refreshed by the agent). */
  containers(): Iterable<{ name: string; cg: ContainerCgroup }>;
  /**
   * The OOM guard's lease (oom-guard.ts): its file and length. Absent: no guard — the OOM killer
   * stays as the kernel has it, and growMiB is 0.
   */
  lease?: { path: string; ms: number };
  /** Plan and log, never write (the agent's dry run). */
  dryRun?: boolean;
}

export type RaiseResult =
  | { kind: 'raised'; fromMiB: number; toMiB: number; version: number }
  | { kind: 'no-room' | 'not-managed'; reason: string };

export class MemoryWatch {
  private readonly d: MemoryWatchDeps;
  private readonly last = new Map<string, MemSignals>();
  private readonly busy = new Set<string>();
  /**
   * When each container's last raise attempt finished (clock ms): it settles until then + settleMs.
   * Also after no-room or a failure, so a held stall re-reads the host item once a window, not every poll.
   */
  private readonly raisedAt = new Map<string, number>();
  private readonly settleMs: number;
  private timer: NodeJS.Timeout | null = null;
  /** Resolved raises (tests and the benchmark await them). */
  readonly raises: Promise<RaiseResult | null>[] = [];

  /** Room to grow per container, from the last host read: its max and the host's free memory. */
  private readonly room = new Map<string, GrowRoom>();
  /** When each container's current stall was first seen, or its last raise landed (clock ms). */
  private readonly stallSince = new Map<string, number>();
  /** When each container's last raise landed (clock ms). */
  private readonly grewAt = new Map<string, number>();
  /** Clock ms of the last lease written; null: none (the guard is off). */
  private leaseAt: number | null = null;
  /** The container names the last lease carried (sorted, joined). */
  private leaseNames = '';

  constructor(deps: MemoryWatchDeps) {
    this.d = deps;
    this.settleMs = deps.settleMs ?? RAISE_SETTLE_MS;
  }

  start(periodMs: number): void {
    if (periodMs <= 0 || this.timer !== null) return;
    this.renewLease();
    this.timer = setInterval(() => this.poll(), periodMs);
    this.timer.unref();
  }

  /** Stop polling, hand every container back to the OOM killer, and give the lease up. */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.rearmAll();
    this.leaseAt = null;
    if (this.d.lease !== undefined && this.d.dryRun !== true) removeLease(this.d.lease.path);
  }

  /** Whether the guard may keep the OOM killer off now: polling, with a lease written within its length. */
  guarding(): boolean {
    const l = this.d.lease;
    if (l === undefined || this.timer === null || this.leaseAt === null || this.d.dryRun === true)
      return false;
    return this.d.clock.now() - this.leaseAt < l.ms;
  }

  /**
   * Renew the lease when a third of it has passed, or at once when it does not name every watched
   * container (so it does before any guard write); a failed write turns the guard off (re-armed).
   */
  private renewLease(): void {
    const l = this.d.lease;
    if (l === undefined || this.d.dryRun === true) return;
    const now = this.d.clock.now();
    const names = this.managed()
      .map((c) => c.name)
      .sort();
    const same = names.join(',') === this.leaseNames;
    if (same && this.leaseAt !== null && now - this.leaseAt < l.ms / 3) return;
    try {
      writeLease(l.path, { until: now + l.ms, pid: process.pid, containers: names });
      this.leaseNames = names.join(',');
      this.leaseAt = now;
    } catch (err) {
      if (this.leaseAt !== null)
        this.d.log.error(
          { err: (err as Error).message, path: l.path },
          'OOM lease not written: OOM killer re-armed',
        );
      this.leaseAt = null;
      this.rearmAll();
    }
  }

  /**
   * The watched containers this host's state manages (learned from a host read): the only ones
   * the guard ever touches — other containers on the host (another tool's, another agent's) never.
   */
  private managed(): { name: string; cg: ContainerCgroup }[] {
    return [...this.d.containers()].filter((c) => this.room.has(c.name));
  }

  /**
   * At start, before this agent's first lease: hand every container a previous agent's lease
   * names back to the OOM killer (a stall it left is resolved first, not left waiting for a raise
   * this agent knows nothing of yet). The guard pass after the first reconciliation disarms again
   * where memory may grow.
   */
  resolveLeftovers(): string[] {
    const l = this.d.lease;
    if (l === undefined || this.d.dryRun === true) return [];
    const old = readLease(l.path);
    if (old === null) return [];
    const named = new Set(old.containers);
    const out: string[] = [];
    for (const { name, cg } of this.d.containers()) if (named.has(name) && rearm(cg)) out.push(name);
    if (out.length > 0)
      this.d.log.warn({ containers: out }, 'OOM killer re-armed: left disarmed by a previous agent');
    return out;
  }

  /** Learn each container's room to grow from a host read (reconciliation, a raise). */
  learn(host: HostState): void {
    for (const [name, c] of Object.entries(host.containers)) {
      const mem = c.resources.mem;
      if (c.host !== this.d.host || mem === undefined) this.room.delete(name);
      else
        this.room.set(name, {
          currentMiB: mem.current,
          maxMiB: mem.max,
          hostFreeMiB: host.capacity.mem.free,
        });
    }
  }

  /** How far a container at `memMiB` may grow before the OOM killer must act (0 when not guarding). */
  growMiB(name: string, memMiB: number): number {
    if (!this.guarding()) return 0;
    return growRoomMiB(memMiB, this.room.get(name), this.d.raisePct, this.d.raiseMinMiB);
  }

  /**
   * Bring every container's OOM guard in line with its room to grow, at the limit the kernel
   * holds (after reconciliation; under the container's lock, so never between an order's writes).
   */
  async guardPass(): Promise<void> {
    this.renewLease(); // the lease names every container before any of them is disarmed
    for (const { name, cg } of this.managed()) {
      await this.d.orders.withLock(name, async () => this.guardOne(name, cg));
    }
  }

  private guardOne(name: string, cg: ContainerCgroup): void {
    if (this.d.dryRun === true) return;
    const s = readMemSignals(cg);
    if (s === null || s.limitBytes === null) return;
    const memMiB = Math.floor(s.limitBytes / BYTES_PER_MIB);
    try {
      const written = writeGuard(cg, oomGuardWrites(cg.version, memMiB, this.growMiB(name, memMiB)));
      if (written.length > 0) this.d.log.info({ container: name, written }, 'OOM guard set');
    } catch (err) {
      this.d.log.warn({ container: name, err: (err as Error).message }, 'OOM guard not set; re-arming');
      rearm(cg);
    }
  }

  /** Hand every watched container back to the kernel's OOM killer (start, stop, lost lease). */
  rearmAll(): string[] {
    if (this.d.dryRun === true) return [];
    const out: string[] = [];
    for (const { name, cg } of this.managed()) if (rearm(cg)) out.push(name);
    if (out.length > 0) this.d.log.warn({ containers: out }, 'OOM killer re-armed');
    return out;
  }

  /** One poll of every container; emergencies start a raise (one at a time per container). */
  poll(): void {
    this.renewLease();
    const at = this.d.clock.now();
    for (const { name, cg } of this.d.containers()) {
      const now = readMemSignals(cg);
      if (now === null) continue;
      if (now.underOom && this.room.has(name)) {
        // A stall is "not resolved" when no raise has landed for STALL_MAX_MS: a step several raises
        // deep shows under_oom 1 throughout (the kernel clears it only once the task runs), yet it
        // progresses with every raise.
        const since = Math.max(this.stallSince.get(name) ?? at, this.grewAt.get(name) ?? -Infinity);
        this.stallSince.set(name, since);
        if (at - since > STALL_MAX_MS && !this.busy.has(name)) {
          this.d.log.error(
            { container: name, stalledMs: at - since },
            'memory stall not resolved: OOM killer re-armed',
          );
          rearm(cg);
          this.stallSince.delete(name);
        }
      } else this.stallSince.delete(name);
      const prev = this.last.get(name);
      if (prev !== undefined && now.limitHits > prev.limitHits && !now.underOom)
        now.anonBytes = anonBytes(cg);
      this.last.set(name, now);
      if (prev === undefined || this.busy.has(name)) continue;
      const settling = this.d.clock.now() - (this.raisedAt.get(name) ?? -Infinity) < this.settleMs;
      if (!isEmergency(prev, now, settling)) continue;
      this.busy.add(name);
      const p = this.raise(name)
        .then((r) => {
          if (r.kind === 'raised') this.grewAt.set(name, this.d.clock.now());
          return r;
        })
        .catch((err: unknown) => {
          this.d.log.error({ container: name, err: (err as Error).message }, 'memory fast path failed');
          return null;
        })
        .finally(() => {
          this.busy.delete(name);
          this.raisedAt.set(name, this.d.clock.now());
          const after = readMemSignals(cg);
          if (after !== null) this.last.set(name, after);
        });
      this.raises.push(p);
      if (this.raises.length > 100) this.raises.shift();
    }
  }

  /** Raise a container's memory now: account on the host item (versioned, retried on races), then apply. */
  async raise(name: string): Promise<RaiseResult> {
    const log = this.d.log.child({ container: name, via: 'oom-fastpath' });
    for (let attempt = 0; attempt < 8; attempt++) {
      const host = await this.d.store.readHost();
      const c = host?.containers[name];
      const mem = c?.resources.mem;
      if (host === null || c === undefined || mem === undefined) {
        log.warn('memory pressure in a container the state does not manage');
        return { kind: 'not-managed', reason: 'no desired memory for this container' };
      }
      const toMiB = raisedMemMiB(
        mem.current,
        mem.max,
        host.capacity.mem.free,
        this.d.raisePct,
        this.d.raiseMinMiB,
      );
      this.learn(host);
      if (toMiB === null) {
        log.warn(
          { current: mem.current, max: mem.max, hostFree: host.capacity.mem.free },
          'memory pressure, no room to raise: OOM killer re-armed',
        );
        // No growth possible: the kernel decides now, the container must not hang.
        for (const w of this.d.containers()) if (w.name === name) this.guardOne(name, w.cg);
        return { kind: 'no-room', reason: `at max (${mem.max} MiB) or no free host memory` };
      }
      const next = bumpMemory(host, name, toMiB, this.d.clock.now(), this.d.orders.applied.get(name) ?? 0);
      try {
        await this.d.store.commitHost(next, host.version);
      } catch (err) {
        if (err instanceof StaleStateError) continue;
        throw err;
      }
      this.learn(next); // the apply below sets the guard for the room left after this raise
      const version = next.containers[name]?.desiredVersion ?? 0;
      const nc = next.containers[name];
      if (nc !== undefined)
        await this.d.orders.apply(name, desiredLimits(nc, next.cpuPlacement), version, 'oom-fastpath');
      log.warn({ fromMiB: mem.current, toMiB, version }, 'memory raised on pressure');
      return { kind: 'raised', fromMiB: mem.current, toMiB, version };
    }
    throw new StaleStateError('host state kept changing during the memory fast path', null, {
      context: { container: name },
    });
  }
}

/**
 * The host item with one container's memory raised, its desired version bumped
 * past both the stored and the applied one, and the host's free memory reduced. Pure.
 */
export function bumpMemory(
  host: HostState,
  name: string,
  toMiB: number,
  now: number,
  appliedVersion = 0,
): HostState {
  const next = structuredClone(host);
  const c = next.containers[name];
  const mem = c?.resources.mem;
  if (c === undefined || mem === undefined) return next;
  const delta = toMiB - mem.current;
  mem.current = toMiB;
  c.desiredVersion = Math.max(c.desiredVersion, appliedVersion) + 1;
  c.desiredAt = now;
  next.capacity.mem.free -= delta;
  next.version += 1;
  return next;
}
