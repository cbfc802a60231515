/** In-memory fakes of the host agent's ports, for unit tests. */

import { silentLogger } from '../../adapters/logger.ts';
import type { HostState } from '../../core/contracts/host.ts';
import { orderId, type ScaleOrder } from '../../core/contracts/order.ts';
import type { AgentHeartbeat, AgentReport } from '../../core/contracts/report.ts';
import { StaleStateError } from '../../core/errors.ts';
import type { Clock } from '../../core/ports/clock.ts';
import { resolveContainerCgroup } from '../../host-agent/cgroup/layout.ts';
import type { Discovered } from '../../host-agent/discovery.ts';
import type { NetShaper } from '../../host-agent/net/tc.ts';
import { OrderService } from '../../host-agent/orders.ts';
import type { AgentStateStore } from '../../host-agent/state.ts';

export class FakeStore implements AgentStateStore {
  host: HostState | null = null;
  reports = new Map<string, AgentReport>();
  history: AgentReport[] = [];
  heartbeats: AgentHeartbeat[] = [];
  /** Fail the next N report writes with a network-like error. */
  failReports = 0;
  /** Before the next N host commits, someone else bumps the host's version. */
  raceCommits = 0;
  commits = 0;
  /** The consistency of every host read (true = strongly consistent). */
  hostReads: boolean[] = [];
  /**
   * What an eventually consistent read returns while set: a replica that has not seen the latest
   * commits yet (strongly consistent reads always return `host`).
   */
  lagging: HostState | null = null;

  async readHost(opts: { consistent?: boolean } = {}) {
    const consistent = opts.consistent ?? true;
    this.hostReads.push(consistent);
    const seen = !consistent && this.lagging !== null ? this.lagging : this.host;
    return seen === null ? null : structuredClone(seen);
  }
  async readApplied() {
    return new Map([...this.reports].map(([c, r]) => [c, r.appliedVersion]));
  }
  async putReport(r: AgentReport) {
    if (this.failReports > 0) {
      this.failReports--;
      const err = new Error('connect ECONNREFUSED 127.0.0.1:1');
      err.name = 'TimeoutError';
      throw err;
    }
    const cur = this.reports.get(r.container);
    if (cur !== undefined && cur.appliedVersion > r.appliedVersion) return false;
    this.reports.set(r.container, r);
    this.history.push(r);
    return true;
  }
  async putHeartbeat(hb: AgentHeartbeat) {
    this.heartbeats.push(hb);
  }
  async commitHost(next: HostState, expected: number) {
    if (this.raceCommits > 0 && this.host !== null) {
      this.raceCommits--;
      this.host = { ...this.host, version: this.host.version + 1 };
    }
    if (this.host === null || this.host.version !== expected)
      throw new StaleStateError('host state changed', this.host);
    this.commits++;
    this.host = structuredClone(next);
  }
}

export function fakeClock(startMs = 1_000_000): Clock & { t: number } {
  const c = {
    t: startMs,
    now: () => c.t,
    sleep: async (ms: number) => {
      c.t += ms;
    },
  };
  return c;
}

export function fakeShaper(): NetShaper & { rates: Map<string, number> } {
  const rates = new Map<string, number>();
  return {
    rates,
    readMbps: async (dev) => rates.get(dev) ?? null,
    setMbps: async (dev, mbps) => {
      rates.set(dev, mbps);
    },
  };
}

/** A host item with one container, fixture builder style. */
export function aHostState(
  host: string,
  containers: Record<string, { cpu?: number; mem?: number; memMax?: number; version?: number }>,
  memFree = 2048,
): HostState {
  return {
    name: host,
    version: 1,
    cpuPlacement: 'quota',
    capacity: {
      cpu: {
        max: 200,
        free: 100,
        topology: [
          { id: '0', socket: 0, core: 0 },
          { id: '1', socket: 0, core: 1 },
        ],
        cores: {},
      },
      mem: { max: 4096, free: memFree },
      disks: {},
      net: null,
    },
    containers: Object.fromEntries(
      Object.entries(containers).map(([name, c]) => [
        name,
        {
          name,
          host,
          application: null,
          guard: true,
          resources: {
            ...(c.cpu === undefined
              ? {}
              : { cpu: { max: 200, min: 10, current: c.cpu, guard: true, weight: 1 } }),
            ...(c.mem === undefined
              ? {}
              : { mem: { max: c.memMax ?? 2048, min: 64, current: c.mem, guard: true, weight: 1 } }),
          },
          cores: [],
          disk: null,
          desiredVersion: c.version ?? 1,
          desiredAt: 0,
        },
      ]),
    ),
    degraded: false,
    queueUrl: null,
  };
}

/**
 * An OrderService on a fake v1 cgroup tree (`root`: test/support/cgroup-tree.ts), a fake shaper and
 * the given store and clock: 2 cpus, 4 GiB, short backoffs.
 */
export function anOrderService(host: string, root: string, store: FakeStore, clock: Clock): OrderService {
  return new OrderService({
    host,
    finder: {
      find: async (name) => {
        const cg = resolveContainerCgroup(root, 'v1', name);
        return cg === null ? null : ({ cg, veth: null, diskDevice: '254:0', pid: 1 } satisfies Discovered);
      },
    },
    shaper: fakeShaper(),
    store,
    clock,
    log: silentLogger,
    facts: { cpus: ['0', '1'], memMiB: 4096 },
    cpuPeriodUs: 100_000,
    backoffMinMs: 10,
    backoffMaxMs: 100,
  });
}

/** A scale order for container c1 on `host`, issued 10 ms ago, expiring in a minute. */
export function aScaleOrder(
  host: string,
  clock: Clock,
  version: number,
  limits: ScaleOrder['limits'],
  over: Partial<ScaleOrder> = {},
): ScaleOrder {
  return {
    kind: 'scale-order',
    orderId: orderId('c1', version),
    host,
    container: 'c1',
    desiredVersion: version,
    issuedAt: clock.now() - 10,
    expiresAt: clock.now() + 60_000,
    limits,
    reasons: [],
    ...over,
  };
}
