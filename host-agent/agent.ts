/**
 * The host agent, assembled: discovery, the order service, the consumer,
 * reconciliation, the heartbeat, the memory fast path and (optionally) the
 * usage publisher, with one start()/stop() lifecycle.
 */
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import type { Logger } from '../adapters/logger.ts';
import { hostQueueNames } from '../core/contracts/order-queue.ts';
import type { HostTopologyReport } from '../core/contracts/report.ts';
import type { Clock } from '../core/ports/clock.ts';
import type { AgentQueueClient } from './aws/sqs.ts';
import { detectCgroupVersion } from './cgroup/layout.ts';
import { compactCpuList, expandCpuList } from './cgroup/plan.ts';
import type { AgentConfig } from './config.ts';
import { OrderConsumer } from './consumer.ts';
import { type Discovered, Discovery } from './discovery.ts';
import { isTransient } from './errors.ts';
import { Liveness, provingStore } from './liveness.ts';
import { MemoryWatch } from './memory-watch.ts';
import type { NetShaper } from './net/tc.ts';
import { type HostFacts, OrderService } from './orders.ts';
import { UsagePublisher } from './publisher.ts';
import { reconcileOnce } from './reconcile.ts';
import type { AgentStateStore } from './state.ts';
import { readHostTopology } from './topology.ts';

export const AGENT_VERSION = '0.1.0';

/** This machine's logical CPUs and memory. */
export function readHostFacts(): HostFacts {
  let ids: number[] | null = null;
  try {
    ids = expandCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
  } catch {
    ids = null;
  }
  const list = ids ?? cpus().map((_, i) => i);
  return { cpus: list.map(String), memMiB: Math.floor(totalmem() / 1_048_576) };
}

export interface AgentDeps {
  config: Readonly<AgentConfig>;
  sqs: AgentQueueClient;
  store: AgentStateStore;
  shaper: NetShaper;
  clock: Clock;
  log: Logger;
  facts?: HostFacts;
  /** What the heartbeat reports of the host (default: read from sysfs at construction; null: none). */
  topology?: HostTopologyReport | null;
}

export class HostAgent {
  readonly discovery: Discovery;
  readonly orders: OrderService;
  readonly memoryWatch: MemoryWatch;
  consumer: OrderConsumer | null = null;
  publisher: UsagePublisher | null = null;
  /** When a heartbeat is due: reports that landed count as signs of life too. */
  readonly liveness = new Liveness();
  private readonly d: AgentDeps;
  private readonly store: AgentStateStore;
  private readonly facts: HostFacts;
  private readonly topology: HostTopologyReport | null;
  /** The container list the last heartbeat carried (sorted, joined); null: none written yet. */
  private heartbeatContainers: string | null = null;
  private readonly abort = new AbortController();
  private containers = new Map<string, Discovered>();
  private background: Promise<void>[] = [];

  constructor(deps: AgentDeps) {
    this.d = deps;
    this.store = provingStore(deps.store, this.liveness);
    const c = deps.config;
    this.facts = deps.facts ?? readHostFacts();
    this.topology = deps.topology === undefined ? readHostTopology() : deps.topology;
    const version = c.cgroupVersion === 'auto' ? detectCgroupVersion(c.cgroupRoot) : c.cgroupVersion;
    this.discovery = new Discovery({
      cgroupRoot: c.cgroupRoot,
      version,
      lxcPath: c.lxcPath,
      diskBindTarget: c.diskBindTarget,
    });
    this.orders = new OrderService({
      host: c.host,
      finder: this.discovery,
      shaper: deps.shaper,
      store: this.store,
      clock: deps.clock,
      log: deps.log,
      facts: this.facts,
      cpuPeriodUs: c.cpuPeriodUs,
      backoffMinMs: c.backoffMinMs,
      backoffMaxMs: c.backoffMaxMs,
      dryRun: c.dryRun,
      ...(c.memWatchMs > 0 && c.oomLeasePath !== null
        ? { memGrowMiB: (name: string, memMiB: number) => this.memoryWatch.growMiB(name, memMiB) }
        : {}),
    });
    this.memoryWatch = new MemoryWatch({
      host: c.host,
      store: this.store,
      orders: this.orders,
      clock: deps.clock,
      log: deps.log,
      raisePct: c.memRaisePct,
      raiseMinMiB: c.memRaiseMinMiB,
      containers: () => [...this.containers].map(([name, d]) => ({ name, cg: d.cg })),
      ...(c.oomLeasePath === null ? {} : { lease: { path: c.oomLeasePath, ms: c.oomLeaseMs } }),
      dryRun: c.dryRun,
    });
  }

  async start(): Promise<void> {
    const c = this.d.config;
    const log = this.d.log;
    log.info(
      {
        host: c.host,
        cgroup: this.discovery.version,
        cpus: compactCpuList(this.facts.cpus.map(Number)),
        memMiB: this.facts.memMiB,
      },
      'host agent starting',
    );
    await this.rescan();
    // Every stall a previous agent left is resolved first: the containers its lease names are handed
    // to the kernel's OOM killer. The guard pass after the first reconciliation turns the guard back
    // on where memory may grow.
    this.memoryWatch.resolveLeftovers();
    // An early heartbeat carries the host's topology before its queue exists, so that
    // `sc host add --from-agent` can register the host from it (best effort: retried below).
    await this.heartbeat();
    await this.retrying('load applied versions', () => this.orders.loadApplied());
    const queueUrl = await this.retrying('find the queue', () => this.findQueueUrl());
    const dlqUrl = await this.findDlqUrl();
    // The newest desired state first: one reconcile before any queued order is taken, so orders
    // older than it are dropped as stale instead of being written into a cgroup for a moment.
    try {
      await this.retrying('first reconcile', async () => {
        const s = await this.reconcile(true);
        log.info({ ...s, first: true }, 'reconciled');
      });
    } catch (err) {
      if (this.abort.signal.aborted) throw err;
      // Orders still carry their versions; the loop reconciles again after its period.
      log.warn({ err: (err as Error).message }, 'first reconcile failed; taking orders anyway');
    }
    this.consumer = new OrderConsumer(
      { sqs: this.d.sqs, handle: (o, s) => this.orders.handleOrder(o, s), clock: this.d.clock, log },
      {
        queueUrl,
        dlqUrl,
        waitTimeS: c.waitTimeS,
        visibilityTimeoutS: c.visibilityTimeoutS,
        visibilityHeartbeatMs: c.visibilityHeartbeatMs,
        unknownRetryS: c.unknownRetryS,
        backoffMinMs: c.backoffMinMs,
        backoffMaxMs: c.backoffMaxMs,
        drainTimeoutMs: Math.max(c.visibilityTimeoutS, 30) * 1000,
      },
    );
    this.consumer.start();
    this.background.push(this.reconcileLoop(c.reconcileMs));
    this.memoryWatch.start(c.memWatchMs);
    // The first reconcile ran before the watch: its guard pass could not disarm (no watch yet to
    // raise a stalled step). Now that the watch runs, guard where memory may grow.
    await this.memoryWatch.guardPass();
    if (c.publishUrl !== null) {
      this.publisher = new UsagePublisher({
        url: c.publishUrl,
        usage: c.publishUsage,
        log,
        now: () => this.d.clock.now(),
        containers: () =>
          [...this.containers].map(([name, d]) => ({ name, cg: d.cg, veth: d.veth, pid: d.pid })),
      });
      this.publisher.start(c.publishMs);
    }
    await this.heartbeat();
    this.background.push(this.heartbeatLoop());
    log.info({ queueUrl }, 'host agent started');
  }

  /** Stop taking orders, drain the in-flight ones, stop the loops. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.memoryWatch.stop();
    await this.consumer?.stop();
    await this.publisher?.stop();
    await Promise.allSettled(this.background);
    this.d.log.info('host agent stopped');
  }

  /** Re-discover the containers of this host. */
  async rescan(): Promise<void> {
    this.containers = await this.discovery.scan();
  }

  /** One reconciliation pass (rescan first); exported for tests and the sanity sweep's needs. */
  async reconcile(reportAll: boolean) {
    await this.rescan();
    const summary = await reconcileOnce(
      {
        host: this.d.config.host,
        store: this.store,
        orders: this.orders,
        log: this.d.log,
        onHost: (host) => this.memoryWatch.learn(host),
      },
      { reportAll, signal: this.abort.signal },
    );
    await this.memoryWatch.guardPass();
    return summary;
  }

  private async reconcileLoop(firstWaitMs: number): Promise<void> {
    let delay = this.d.config.backoffMinMs;
    await this.d.clock.sleep(firstWaitMs, this.abort.signal).catch(() => undefined);
    while (!this.abort.signal.aborted) {
      try {
        const s = await this.reconcile(false);
        this.d.log.info({ ...s, first: false }, 'reconciled');
        // The heartbeat carries the discovered containers: a change goes out now, not at the next one.
        if (this.heartbeatContainers !== null && this.heartbeatContainers !== this.containerList())
          await this.heartbeat();
        delay = this.d.config.backoffMinMs;
        await this.d.clock.sleep(this.d.config.reconcileMs, this.abort.signal);
      } catch (err) {
        if (this.abort.signal.aborted) return;
        this.d.log.warn({ err: (err as Error).message, retryInMs: delay }, 'reconcile failed; backing off');
        await this.d.clock.sleep(delay, this.abort.signal);
        delay = Math.min(delay * 2, this.d.config.backoffMaxMs);
      }
    }
  }

  /**
   * A heartbeat one period after the last sign of life (heartbeat or landed report, see
   * liveness.ts): never more than a period without one, none while reports keep landing.
   * A failed write is retried with backoff, at most a period apart.
   */
  private async heartbeatLoop(): Promise<void> {
    const period = this.d.config.heartbeatMs;
    let retry = this.d.config.backoffMinMs;
    while (!this.abort.signal.aborted) {
      const now = this.d.clock.now();
      const wait = this.liveness.dueAt(period, now) - now;
      if (wait > 0) {
        await this.d.clock.sleep(wait, this.abort.signal);
        continue;
      }
      if (await this.heartbeat()) retry = this.d.config.backoffMinMs;
      else {
        await this.d.clock.sleep(Math.min(retry, period), this.abort.signal);
        retry = Math.min(retry * 2, period);
      }
    }
  }

  private containerList(): string {
    return [...this.containers.keys()].sort().join(',');
  }

  /** Write the heartbeat item; false (logged) when the write failed. */
  private async heartbeat(): Promise<boolean> {
    const containers = [...this.containers.keys()];
    try {
      await this.store.putHeartbeat({
        host: this.d.config.host,
        at: this.d.clock.now(),
        agentVersion: AGENT_VERSION,
        cgroupVersion: this.discovery.version,
        containers,
        periodS: this.d.config.heartbeatMs / 1000,
        ...(this.topology === null ? {} : { topology: this.topology }),
      });
      this.heartbeatContainers = [...containers].sort().join(',');
      return true;
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message }, 'heartbeat failed');
      return false;
    }
  }

  private async findQueueUrl(): Promise<string> {
    const c = this.d.config;
    if (c.queueUrl !== null) return c.queueUrl;
    const host = await this.store.readHost();
    if (host?.queueUrl) return host.queueUrl;
    const url = await this.d.sqs.getQueueUrl(hostQueueNames(c.host, c.queuePrefix).queue);
    if (url === null) throw new Error(`no order queue for host ${c.host} yet`);
    return url;
  }

  private async findDlqUrl(): Promise<string | null> {
    try {
      return await this.d.sqs.getQueueUrl(hostQueueNames(this.d.config.host, this.d.config.queuePrefix).dlq);
    } catch {
      return null;
    }
  }

  /** Retry a start-up step with backoff while it fails transiently (or the queue does not exist yet). */
  private async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let delay = this.d.config.backoffMinMs;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        if (this.abort.signal.aborted) throw err;
        const transient = isTransient(err) || (err as Error).message.startsWith('no order queue');
        if (!transient) throw err;
        this.d.log.warn({ err: (err as Error).message, retryInMs: delay }, `${what} failed; backing off`);
        await this.d.clock.sleep(delay, this.abort.signal);
        delay = Math.min(delay * 2, this.d.config.backoffMaxMs);
      }
    }
  }
}
