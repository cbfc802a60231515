/**
 * The agent's use case: bring a container to a desired state at a version —
 * from an order, from reconciliation or from the memory fast path — once,
 * in version order, and report what the kernel now holds.
 */
import type { Logger } from '../adapters/logger.ts';
import type { Container, HostState } from '../core/contracts/index.ts';
import type { OrderLimits, ScaleOrder } from '../core/contracts/order.ts';
import type { AgentReport, AppliedLimits } from '../core/contracts/report.ts';
import type { Clock } from '../core/ports/clock.ts';
import { applyPlan, hasCpuset, readLimits } from './cgroup/apply.ts';
import { compactCpuList, expandCpuList, type Issue, type PlanContext, plan } from './cgroup/plan.ts';
import type { Discovered } from './discovery.ts';
import { AbsurdValueError, isTransient, UnsafePathError } from './errors.ts';
import type { NetShaper } from './net/tc.ts';
import type { AgentStateStore } from './state.ts';

export interface HostFacts {
  cpus: readonly string[];
  memMiB: number;
}

/** Finds containers; Discovery in production, a fake in unit tests. */
export interface ContainerFinder {
  find(name: string, opts?: { fresh?: boolean }): Promise<Discovered | null>;
}

export interface OrderServiceDeps {
  host: string;
  finder: ContainerFinder;
  shaper: NetShaper;
  store: AgentStateStore;
  clock: Clock;
  log: Logger;
  facts: HostFacts;
  cpuPeriodUs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  dryRun?: boolean;
  /**
   * How far a container at `memMiB` may still grow (the memory fast path's OOM guard, plan.ts
   * PlanContext.memGrowMiB). Absent: memory writes are the limit alone.
   */
  memGrowMiB?: (container: string, memMiB: number) => number;
}

export type Via = AgentReport['via'];

/**
 * How far above the newest version the agent knows (applied, or desired as read by a
 * reconcile) an order may be. Versions grow by one per committed change and the queue
 * is FIFO per container, so a bigger jump is not an order of this platform: applying
 * it would make every later order look stale. It goes to the DLQ with the reason.
 */
export const MAX_VERSION_JUMP = 10_000;

/** What to do with the message that carried an order. */
export type Disposition =
  | { kind: 'delete'; why: 'applied' | 'duplicate' | 'stale' | 'expired' | 'refused' | 'wrong-host' }
  | { kind: 'dead-letter'; why: 'version-jump'; reason: string }
  | { kind: 'retry'; why: 'unknown-container' };

/** Compare limits asked with limits read back, resource by resource (only those asked). */
export function differingResources(
  want: OrderLimits,
  have: AppliedLimits,
  hostCpus: readonly string[],
): string[] {
  const out: string[] = [];
  for (const k of ['cpuShares', 'memMiB', 'diskReadMiBps', 'diskWriteMiBps', 'netMbps'] as const) {
    if (want[k] !== undefined && want[k] !== have[k]) out.push(k);
  }
  if (want.cpuset !== undefined) {
    const w = expandCpuList(want.cpuset) ?? [];
    const wanted = compactCpuList(w.length === 0 ? hostCpus.map(Number) : w);
    // null: no cpuset restriction to read (a v2 cgroup without the controller) — every cpu, as asked
    const unrestricted = have.cpuset === null && w.length === 0;
    if (!unrestricted && wanted !== compactCpuList(expandCpuList(have.cpuset ?? '') ?? []))
      out.push('cpuset');
  }
  return out;
}

/** A container's desired state (from its host's item) as order limits. */
export function desiredLimits(c: Container, placement: HostState['cpuPlacement']): OrderLimits {
  const r = c.resources;
  const limits: OrderLimits = {};
  if (r.cpu !== undefined && r.cpu.current >= 1) limits.cpuShares = r.cpu.current;
  if (placement === 'pinned' && c.cores.length > 0) limits.cpuset = compactCpuList(c.cores.map(Number));
  else if (placement === 'quota') limits.cpuset = '';
  if (r.mem !== undefined && r.mem.current >= 4) limits.memMiB = r.mem.current;
  if (r.disk_read !== undefined && r.disk_read.current >= 1) limits.diskReadMiBps = r.disk_read.current;
  if (r.disk_write !== undefined && r.disk_write.current >= 1) limits.diskWriteMiBps = r.disk_write.current;
  if (r.net !== undefined && r.net.current >= 1) limits.netMbps = r.net.current;
  return limits;
}

const NO_LIMITS: AppliedLimits = {
  cpuShares: null,
  cpuset: null,
  memMiB: null,
  diskReadMiBps: null,
  diskWriteMiBps: null,
  netMbps: null,
};

export class OrderService {
  private readonly d: OrderServiceDeps;
  /** Last version reported per container (the DynamoDB item is the durable copy). */
  readonly applied = new Map<string, number>();
  /** Desired version per container as the last reconcile read it (the newest state the agent knows). */
  readonly desired = new Map<string, number>();
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(deps: OrderServiceDeps) {
    this.d = deps;
  }

  async loadApplied(): Promise<void> {
    for (const [c, v] of await this.d.store.readApplied()) {
      if (v > (this.applied.get(c) ?? -1)) this.applied.set(c, v);
    }
  }

  /** Run `fn` alone for this container (orders, reconcile and the fast path never interleave). */
  withLock<T>(container: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(container) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(container, tail);
    void tail.then(() => {
      if (this.locks.get(container) === tail) this.locks.delete(container);
    });
    return next;
  }

  /** Handle one order from the queue. Throws only on transient trouble (the message then stays). */
  async handleOrder(order: ScaleOrder, signal?: AbortSignal): Promise<Disposition> {
    const log = this.d.log.child({
      container: order.container,
      orderId: order.orderId,
      version: order.desiredVersion,
    });
    if (order.host !== this.d.host) {
      log.warn({ orderHost: order.host }, 'order for another host dropped');
      return { kind: 'delete', why: 'wrong-host' };
    }
    if (this.d.clock.now() > order.expiresAt) {
      log.info({ expiresAt: order.expiresAt }, 'expired order dropped (reconciliation repairs)');
      return { kind: 'delete', why: 'expired' };
    }
    return this.withLock(order.container, async (): Promise<Disposition> => {
      const applied = this.applied.get(order.container) ?? 0;
      const desired = this.desired.get(order.container) ?? 0;
      if (order.desiredVersion > Math.max(applied, desired) + MAX_VERSION_JUMP) {
        const reason = `version ${order.desiredVersion} is more than ${MAX_VERSION_JUMP} above the newest known (applied ${applied}, desired ${desired})`;
        log.warn({ applied, desired }, `order refused: ${reason}`);
        return { kind: 'dead-letter', why: 'version-jump', reason };
      }
      if (order.desiredVersion < desired) {
        // The reconcile already read (and applied) a newer desired state: never write an older one.
        log.info({ desired }, 'stale order dropped (older than the desired state read)');
        return { kind: 'delete', why: 'stale' };
      }
      if (order.desiredVersion <= applied) {
        log.info(
          { applied },
          order.desiredVersion === applied ? 'duplicate order: no-op' : 'stale order dropped',
        );
        return { kind: 'delete', why: order.desiredVersion === applied ? 'duplicate' : 'stale' };
      }
      const report = await this.applyLocked(
        order.container,
        order.limits,
        order.desiredVersion,
        'order',
        signal,
      );
      if (report.outcome === 'unknown-container') return { kind: 'retry', why: 'unknown-container' };
      return { kind: 'delete', why: report.outcome === 'refused' ? 'refused' : 'applied' };
    });
  }

  /**
   * Apply a desired state at a version and report it, unless a newer version is
   * already applied (then null). Takes the container's lock.
   */
  apply(
    container: string,
    limits: OrderLimits,
    version: number,
    via: Via,
    signal?: AbortSignal,
  ): Promise<AgentReport | null> {
    return this.withLock(container, async () => {
      if (version < (this.applied.get(container) ?? 0)) return null;
      return this.applyLocked(container, limits, version, via, signal);
    });
  }

  /**
   * Reconcile one container: apply `want` at `version` when the kernel differs
   * from it or the version is ahead of the applied one; with `reportAll`, also
   * report when nothing differs. Returns what it did.
   */
  reconcileContainer(
    container: string,
    want: OrderLimits,
    version: number,
    opts: { reportAll: boolean; signal?: AbortSignal },
  ): Promise<'behind' | 'missing' | 'in-step' | 'applied' | 'reported'> {
    return this.withLock(container, async () => {
      if (version > (this.desired.get(container) ?? 0)) this.desired.set(container, version);
      const applied = this.applied.get(container) ?? 0;
      if (version < applied) return 'behind';
      const actual = await this.readActual(container);
      if (actual === null) return 'missing';
      const differs = differingResources(want, actual, this.d.facts.cpus);
      if (differs.length === 0 && version === applied && !opts.reportAll) return 'in-step';
      if (differs.length > 0) this.d.log.info({ container, differs, version }, 'reconciling drift');
      await this.applyLocked(container, want, version, 'reconcile', opts.signal);
      return differs.length > 0 ? 'applied' : 'reported';
    });
  }

  /** Read a container's limits as the kernel holds them. */
  async readActual(container: string): Promise<AppliedLimits | null> {
    const found = await this.d.finder.find(container);
    return found === null ? null : readLimits(found, this.d.shaper);
  }

  private async applyLocked(
    container: string,
    limits: OrderLimits,
    version: number,
    via: Via,
    signal?: AbortSignal,
  ): Promise<AgentReport> {
    const log = this.d.log.child({ container, version, via });
    const base = { host: this.d.host, container, via } as const;
    let found: Discovered | null;
    try {
      found = await this.d.finder.find(container);
    } catch (err) {
      if (!(err instanceof UnsafePathError)) throw err;
      // Names are validated by the order schema; this is a second fence.
      return this.report(
        {
          ...base,
          appliedVersion: version,
          outcome: 'refused',
          limits: NO_LIMITS,
          issues: [issueOf('name', err)],
        },
        log,
        signal,
      );
    }
    if (found === null) {
      const unknown = {
        ...base,
        appliedVersion: this.applied.get(container) ?? 0,
        outcome: 'unknown-container',
        limits: NO_LIMITS,
        issues: [
          {
            resource: 'container',
            code: 'UNKNOWN_CONTAINER',
            message: `${container} is not on ${this.d.host}`,
          },
        ],
      } satisfies Omit<AgentReport, 'appliedAt'>;
      // A name the platform does not have on this host either (a raw queue order, one left over
      // from an unsubscription) gets no APPLIED# item: nothing would ever remove it. Read
      // strongly consistent, so a subscription made just before its order is seen.
      if (!(await this.platformHas(container))) {
        log.warn('container neither on this host nor in its state: no report written');
        return { ...unknown, appliedAt: this.d.clock.now() };
      }
      log.warn('container not found on this host');
      return this.report(unknown, log, signal, { remember: false });
    }
    const before = await readLimits(found, this.d.shaper);
    const ctx: PlanContext = {
      version: found.cg.version,
      cpuPeriodUs: this.d.cpuPeriodUs,
      hostCpus: this.d.facts.cpus,
      hostMemMiB: this.d.facts.memMiB,
      diskDevice: found.diskDevice,
      currentMemMiB: before.memMiB,
      hasVeth: found.veth !== null,
      cpusetController: hasCpuset(found.cg),
    };
    if (this.d.memGrowMiB !== undefined && limits.memMiB !== undefined)
      ctx.memGrowMiB = this.d.memGrowMiB(container, limits.memMiB);
    let issues: Issue[] = [];
    let outcome: AgentReport['outcome'];
    try {
      const p = plan(limits, ctx);
      if (this.d.dryRun) {
        log.info({ writes: p.writes, netMbps: p.netMbps }, 'dry run: planned writes not applied');
        issues = p.skipped;
        outcome = 'applied';
      } else {
        const result = await applyPlan(found, p, this.d.shaper);
        issues = result.issues;
        const failedAll =
          result.resources.length > 0 &&
          result.resources.every((r) => issues.some((i) => i.resource === (r === 'cpuset' ? 'cpu' : r)));
        outcome = issues.length === 0 ? 'applied' : failedAll ? 'refused' : 'partial';
        log.info({ written: result.written, issues }, 'order applied');
      }
    } catch (err) {
      if (!(err instanceof AbsurdValueError)) throw err;
      log.warn({ err: err.message }, 'order refused, nothing written');
      issues = [issueOf('limits', err)];
      outcome = 'refused';
    }
    const after = await readLimits(found, this.d.shaper);
    return this.report({ ...base, appliedVersion: version, outcome, limits: after, issues }, log, signal);
  }

  /** Whether this host's state (read strongly consistent) has the container. */
  private async platformHas(container: string): Promise<boolean> {
    const host = await this.d.store.readHost({ consistent: true });
    return host !== null && Object.hasOwn(host.containers, container);
  }

  /** Write the report, retrying transient failures with backoff until it lands or `signal` aborts. */
  private async report(
    r: Omit<AgentReport, 'appliedAt'>,
    log: Logger,
    signal?: AbortSignal,
    opts: { remember?: boolean } = {},
  ): Promise<AgentReport> {
    const report: AgentReport = { ...r, appliedAt: this.d.clock.now() };
    let delay = this.d.backoffMinMs;
    for (;;) {
      try {
        const written = await this.d.store.putReport(report);
        if (!written) log.info('a newer report is already stored; kept it');
        break;
      } catch (err) {
        if (!isTransient(err) || signal?.aborted) throw err;
        log.warn({ err: (err as Error).message, retryInMs: delay }, 'report failed; retrying');
        await this.d.clock.sleep(delay * (0.5 + Math.random() / 2), signal);
        if (signal?.aborted) throw err;
        delay = Math.min(delay * 2, this.d.backoffMaxMs);
      }
    }
    if (opts.remember !== false && report.appliedVersion > (this.applied.get(report.container) ?? -1)) {
      this.applied.set(report.container, report.appliedVersion);
    }
    return report;
  }
}

function issueOf(resource: string, err: Error): Issue {
  return { resource, code: err.name, message: err.message };
}
