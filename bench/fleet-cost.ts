/**
 * What a fleet costs on AWS, measured: N guarded containers on N/perHost hosts
 * run for an hour of virtual time against dynalite, fauxqs and VictoriaMetrics,
 * with the code that is deployed:
 *
 * - the control tick (functions/guardian/run-ticks.ts: Guardian → Planner →
 *   per-host FIFO queues), invoked once a virtual minute as EventBridge does
 *   (`clock: 'invocation'`), or one tick per invocation chained through an
 *   SQS delay queue (`clock: 'queue'`, functions/guardian/chain.ts);
 * - the scheduled ops functions as deployed (snapshoter, sanity sweep,
 *   rebalancer: their per-round use cases at their default periods);
 * - one agent per host: orders received from its FIFO queue and handled by
 *   the agent's OrderService on a fake cgroup v2 tree (the cgroup writes are not
 *   what is costed), reports, heartbeats and reconciliation written through the
 *   agent's own LiteTable/DynamoAgentState, heartbeats when the agent's Liveness
 *   says one is due (a period after its last heartbeat or landed report);
 * - usage in BDWatchdog's names, written to VictoriaMetrics every 5 s of
 *   virtual time from a stated workload mix (WORKLOAD below), capped by the
 *   limits the agents applied.
 *
 * Every DynamoDB request is counted with the capacity DynamoDB reports for it,
 * every SQS request with its payload; Lambda time is the invocations' virtual
 * duration as deployed (waiting included) or, for the chained clock, the
 * measured wall time of each tick. The first WARMUP minutes (the fleet settling
 * from its initial allocations) are not counted.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { createDynamoDocumentClient, createSqsClient } from '../adapters/aws.ts';
import { ScalerStore } from '../adapters/dynamodb/scaler-store.ts';
import { tableDefinition } from '../adapters/dynamodb/table.ts';
import { TableClient } from '../adapters/dynamodb/table-client.ts';
import { createLogger, invocationContext, silentLogger } from '../adapters/logger.ts';
import { PrometheusMetricsSource } from '../adapters/metrics/prometheus.ts';
import { OpenTsdbPutSink } from '../adapters/opentsdb-put.ts';
import { ensureHostQueues } from '../adapters/sqs/order-queues.ts';
import type { HostState } from '../core/contracts/host.ts';
import type { Container } from '../core/contracts/structure.ts';
import { keys } from '../core/contracts/table-layout.ts';
import { mapLimit } from '../core/map-limit.ts';
import { DEFAULT_RULES } from '../core/policy/default-rules.ts';
import { admitContainer } from '../core/policy/planner/admission.ts';
import type { Clock } from '../core/ports/clock.ts';
import {
  CHAIN_DEFAULTS,
  type ChainMessage,
  newChainState,
  runChainedTick,
  type TickScheduler,
  watchdog,
} from '../functions/guardian/chain.ts';
import { runTicks } from '../functions/guardian/run-ticks.ts';
import { runTick, type TickReport } from '../functions/guardian/tick.ts';
import { buildControlTick, readControlTickEnv } from '../functions/guardian/wiring.ts';
import { chainMetrics, sanityRoundsMetrics, tickMetrics } from '../functions/handlers/middleware.ts';
import { readOpsEnv } from '../functions/ops/env.ts';
import { buildRebalancer, buildSanity, buildSnapshoter } from '../functions/ops/wiring.ts';
import { AGENT_VERSION } from '../host-agent/agent.ts';
import { LiteTable } from '../host-agent/aws/dynamo.ts';
import { LiteSqs } from '../host-agent/aws/sqs.ts';
import { AgentEnv } from '../host-agent/config.ts';
import { Liveness, provingStore } from '../host-agent/liveness.ts';
import { OrderService } from '../host-agent/orders.ts';
import { reconcileOnce } from '../host-agent/reconcile.ts';
import { DynamoAgentState } from '../host-agent/state.ts';
import { startDynaliteProcess, startFauxqs, startVictoriaMetrics } from '../local/emulators.ts';
import { makeCgroupTree } from '../test/support/cgroup-tree.ts';
import {
  countingFetch,
  countSqsBytes,
  emfOf,
  type HttpBytes,
  LogMeter,
  measureInitMs,
  type TemplateFacts,
  templateFacts,
} from './cost/meters.ts';
import {
  type CostLine,
  estimateMonthlyCost,
  type FunctionUsage,
  HOURS_PER_MONTH,
  type LoopCounts,
  lambdaPlatformLog,
  type NetworkPath,
  SECONDS_PER_MONTH,
  sqsRequests,
} from './cost/model.ts';
import { type Emit, median } from './figure.ts';
import { seeded } from './shard-sim.ts';

export interface FleetOptions {
  containers: number;
  perHost: number;
  /** Measured virtual minutes (after the warm-up). */
  minutes: number;
  warmupMinutes: number;
  /** Agent heartbeat period, s (host-agent/config.ts SC_AGENT_HEARTBEAT_S). */
  heartbeatS: number;
  /** Agent reconciliation period, s (SC_AGENT_RECONCILE_S). */
  reconcileS: number;
  /**
   * 'invocation': EventBridge starts the control tick once a minute and it ticks inside, waiting between
   * ticks (run-ticks.ts); 'queue': one tick per invocation, chained through an SQS delay queue
   * (chain.ts), the scheduled invocation a watchdog.
   */
  clock: 'invocation' | 'queue';
  /**
   * Run the scheduled ops functions (snapshoter, sanity, rebalancer) at their default periods during
   * the first `opsMinutes` measured minutes (their requests do not depend on the workload: reads of
   * the whole fleet), scaled to the whole window; 0 = not at all.
   */
  opsMinutes: number;
  /** Queue clock: checkpoint and full-read periods, ms (functions/guardian/chain.ts CHAIN_DEFAULTS). */
  checkpointEveryMs: number;
  fullReadEveryMs: number;
  /** Deployed memory of the control tick and of the ops functions, MiB (serverless.yml). */
  controlTickMiB: number;
  opsMiB: number;
  /** Guardian settings over the bench's own (e.g. the original amounts: SCALE_UP_FIT false, …). */
  guardian: Record<string, unknown>;
  seed: number;
  log?: (line: string) => void;
  /** Stops the measurement (Ctrl-C): the run throws and its emulators are stopped. */
  signal?: AbortSignal;
}

/** The agent's defaults (host-agent/config.ts). */
const agentDefault = (key: 'SC_AGENT_HEARTBEAT_S' | 'SC_AGENT_RECONCILE_S'): number =>
  AgentEnv.shape[key].parse(undefined);

/** As deployed: serverless.yml (clock, memory), the agent's defaults. */
export const DEFAULT_FLEET: FleetOptions = {
  containers: 1000,
  perHost: 20,
  minutes: 60,
  warmupMinutes: 10,
  heartbeatS: agentDefault('SC_AGENT_HEARTBEAT_S'),
  reconcileS: agentDefault('SC_AGENT_RECONCILE_S'),
  clock: 'queue',
  opsMinutes: 5,
  checkpointEveryMs: CHAIN_DEFAULTS.checkpointEveryMs,
  fullReadEveryMs: CHAIN_DEFAULTS.fullReadEveryMs,
  controlTickMiB: 512,
  opsMiB: 256,
  guardian: {},
  seed: 7,
};

/** Counted requests of one part of the deployment over the measured window. */
export interface PartCounts {
  ddbReads: number;
  ddbWrites: number;
  rru: number;
  wru: number;
  sqsCalls: number;
  /** Billable SQS requests (64 KB chunks). */
  sqsRequests: number;
}

export interface FleetRun {
  options: FleetOptions;
  hosts: number;
  measuredSeconds: number;
  ticks: number;
  /** Scale actions (orders sent) per container-hour. */
  actionsPerContainerHour: number;
  /** Guardian requests per container-hour (some are merged or rejected by the planner). */
  requestsPerContainerHour: number;
  parts: { controlTick: PartCounts; agents: PartCounts; ops: PartCounts };
  /** Control tick's write units by item kind (sort-key prefix; activity batches apart). */
  wruByKind: Record<string, number>;
  /** Orders applied, by the container's workload kind and the limits they set. */
  ordersByKind: Record<string, number>;
  /** Scale actions (orders applied) per container-hour of each workload class. */
  actionsPerContainerHourByClass: Record<string, number>;
  /** Guardian requests by workload class, resource, direction and the rule that made them. */
  requestsByRule: Record<string, number>;
  /** Agents' SQS requests by kind: idle long polls, receives that returned orders, deletes. */
  agentSqs: { idlePolls: number; receives: number; deletes: number };
  /** Heartbeats the agents wrote (the rest of their writes are reports). */
  heartbeats: number;
  /** Control-tick invocations' billed seconds (virtual), and wall ms of the ticks themselves. */
  tickWallMs: number[];
  invocationBilledS: number[];
  /** Mean wall time of one scheduled invocation of each ops function, s (billed as such). */
  opsBilledS: Record<string, number>;
  /** Chained clock: messages sent, watchdog invocations and their wall ms. */
  clockQueue: { sends: number; watchdogs: number; watchdogMs: number[] };
  /** Requests only (DynamoDB, SQS, Lambda duration, EventBridge): the figure before the platform was priced. */
  counts: LoopCounts;
  /**
   * What the functions wrote to CloudWatch Logs in the measured window, by the real code: the control
   * tick's pino lines (ticks and watchdogs together) and EMF per tick, the EMF (or Powertools' "no
   * metrics" warning) of one watchdog invocation, and each ops function's lines + EMF (scaled to the window).
   */
  logs: {
    tick: { bytes: number; events: number };
    watchdogEmf: { bytes: number; events: number };
    ops: Record<string, { bytes: number; events: number }>;
  };
  /** The EMF metrics the functions emitted (namespace/name/dimensions). */
  emfMetrics: string[];
  /** HTTP bytes between the functions and the metrics store (reads, snapshot puts), and SQS (scaled like the ops). */
  metricsStore: HttpBytes;
  sqsHttp: HttpBytes;
  /**
   * HTTP bytes SQS and DynamoDB sent back to the agents in the window (hosts outside AWS: data
   * transfer out): their real requests, plus the idle long polls (not made here) at the size of one
   * empty receive measured at the end.
   */
  agentsReceivedBytes: number;
  /** The same without the ops functions (snapshoter, sanity, rebalancer): the control loop alone. */
  loopCounts: LoopCounts;
  wallS: number;
  loadAvg: number;
}

// ---------------------------------------------------------------- workload

/**
 * The workload mix, per container (cpu in shares = % of a core, mem in MiB):
 * - 60 % steady services: a base level with ±10 % cpu / ±2 % mem noise;
 * - 25 % diurnal services: the base swings ±50 % over 24 h (a random phase), same noise;
 * - 15 % batch containers: idle (10–30 shares) between jobs that arrive on average every 30 min
 *   and run 5–20 min at 150–350 shares, memory growing by 0.5–1.5 GiB while a job runs.
 * Usage never exceeds the limit the agent applied (a container cannot use more than it is given).
 */
export const WORKLOAD = { steady: 0.6, diurnal: 0.25, batch: 0.15 } as const;

interface Profile {
  kind: 'steady' | 'diurnal' | 'batch';
  cpuBase: number;
  memBase: number;
  phase: number;
  /** Batch: job windows [start, end) in virtual ms, with their cpu and extra mem. */
  jobs: { start: number; end: number; cpu: number; mem: number }[];
}

function profiles(n: number, startMs: number, endMs: number, seed: number): Profile[] {
  const r = seeded(seed);
  const out: Profile[] = [];
  for (let i = 0; i < n; i++) {
    const u = r();
    const kind =
      u < WORKLOAD.steady ? 'steady' : u < WORKLOAD.steady + WORKLOAD.diurnal ? 'diurnal' : 'batch';
    const p: Profile = {
      kind,
      cpuBase: kind === 'batch' ? 10 + r() * 20 : 40 + r() * 200,
      memBase: 300 + r() * 2700,
      phase: r() * 2 * Math.PI,
      jobs: [],
    };
    if (kind === 'batch') {
      let t = startMs + r() * 30 * 60_000;
      while (t < endMs) {
        const len = (5 + r() * 15) * 60_000;
        p.jobs.push({ start: t, end: t + len, cpu: 150 + r() * 200, mem: 512 + r() * 1024 });
        t += len - Math.log(1 - r()) * 30 * 60_000;
      }
    }
    out.push(p);
  }
  return out;
}

function demand(p: Profile, at: number, noise: () => number): { cpu: number; mem: number } {
  let cpu = p.cpuBase;
  let mem = p.memBase;
  if (p.kind === 'diurnal') cpu *= 1 + 0.5 * Math.sin((2 * Math.PI * at) / 86_400_000 + p.phase);
  if (p.kind === 'batch') {
    const job = p.jobs.find((j) => j.start <= at && at < j.end);
    if (job !== undefined) {
      cpu = job.cpu;
      mem += job.mem * Math.min(1, (at - job.start) / (job.end - job.start) + 0.2);
    }
  }
  return { cpu: Math.max(1, cpu * (1 + (noise() - 0.5) * 0.2)), mem: mem * (1 + (noise() - 0.5) * 0.04) };
}

// ---------------------------------------------------------------- counting SQS

interface SqsCount {
  calls: number;
  requests: number;
  byCommand: Map<string, number>;
}

function newSqsCount(): SqsCount {
  return { calls: 0, requests: 0, byCommand: new Map() };
}

function payloadBytes(input: Record<string, unknown>): number {
  const entries = (input.Entries as { MessageBody?: string }[] | undefined) ?? [];
  let bytes = typeof input.MessageBody === 'string' ? Buffer.byteLength(input.MessageBody) : 0;
  for (const e of entries) bytes += Buffer.byteLength(e.MessageBody ?? '');
  return bytes;
}

/** Counts every request the SDK client sends (command name, billable requests by payload). */
function countSqs(client: SQSClient, count: SqsCount, onSend?: (queueUrl: string) => void): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      const name = String(context.commandName ?? 'unknown');
      count.calls += 1;
      count.requests += sqsRequests(payloadBytes(input));
      count.byCommand.set(name, (count.byCommand.get(name) ?? 0) + 1);
      if (name.startsWith('SendMessage') && typeof input.QueueUrl === 'string') onSend?.(input.QueueUrl);
      return next(args);
    },
    { step: 'initialize', name: 'scCostCounter' },
  );
}

// ---------------------------------------------------------------- virtual time

/**
 * Virtual time that advances only when the code under test sleeps; every
 * second it passes hands control to `world` (agents, usage, ops), which may
 * do real I/O against the emulators before time moves on.
 */
class VirtualClock implements Clock {
  t: number;
  world: (at: number) => Promise<void> = async () => undefined;
  constructor(t: number) {
    this.t = t;
  }
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    const end = this.t + Math.max(0, ms);
    while (this.t < end) {
      const step = Math.min(1000 - (this.t % 1000) || 1000, end - this.t);
      this.t += step;
      if (this.t % 1000 === 0) await this.world(this.t);
    }
  }
}

// ---------------------------------------------------------------- the fleet

/** A host sized for `perHost` containers: 3.2 CPUs and 6.4 GiB each (64 CPUs, 128 GiB at 20). */
function hostItem(name: string, queueUrl: string, perHost: number): HostState {
  const cpus = Math.ceil(perHost * 3.2);
  const topology = Array.from({ length: cpus }, (_, i) => ({
    id: String(i),
    socket: i < cpus / 2 ? 0 : 1,
    core: i % Math.ceil(cpus / 2),
  }));
  return {
    name,
    version: 0,
    cpuPlacement: 'quota',
    capacity: {
      cpu: { max: cpus * 100, free: cpus * 100, topology, cores: {} },
      mem: { max: perHost * 6554, free: perHost * 6554 },
      disks: {},
      net: null,
    },
    containers: {},
    degraded: false,
    queueUrl,
  };
}

function containerItem(name: string, host: string, p: Profile): Container {
  const cpu = Math.min(400, Math.max(25, Math.round((p.cpuBase * 1.3) / 5) * 5));
  const mem = Math.min(8192, Math.max(256, Math.round((p.memBase * 1.2) / 64) * 64));
  return {
    name,
    host,
    application: null,
    guard: true,
    resources: {
      cpu: { max: 400, min: 25, current: cpu, guard: true, weight: 1 },
      mem: { max: 8192, min: 256, current: mem, guard: true, weight: 1 },
    },
    cores: [],
    disk: null,
    desiredVersion: 0,
    desiredAt: 0,
  };
}

export async function measureFleet(partial: Partial<FleetOptions> = {}): Promise<FleetRun> {
  const o: FleetOptions = { ...DEFAULT_FLEET, ...partial };
  const say = o.log ?? (() => undefined);
  const wall0 = performance.now();
  const hostsN = Math.ceil(o.containers / o.perHost);
  process.env.AWS_ACCESS_KEY_ID ||= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ||= 'local';
  process.env.AWS_REGION ||= 'us-east-1';
  const [ddb, sqsEmu, vm] = await Promise.all([
    startDynaliteProcess(),
    startFauxqs(),
    startVictoriaMetrics(),
  ]);
  // the agents' cgroup writes are not what is costed: a v2-format tree under /tmp
  const cg = makeCgroupTree('v2');
  const cgRoot = cg.root;
  const cleanups: (() => Promise<void> | void)[] = [
    () => cg.cleanup(),
    () => vm.stop(),
    () => sqsEmu.stop(),
    () => ddb.stop(),
  ];
  try {
    const TABLE = 'sc-fleet';
    const region = 'us-east-1';
    const tickDoc = createDynamoDocumentClient({ endpoint: ddb.endpoint, region });
    const opsDoc = createDynamoDocumentClient({ endpoint: ddb.endpoint, region });
    cleanups.unshift(
      () => tickDoc.destroy(),
      () => opsDoc.destroy(),
    );
    await tickDoc.send(new CreateTableCommand(tableDefinition(TABLE)));
    // Write units by item kind (the sort key's prefix), for the breakdown.
    const wruByKind = new Map<string, number>();
    let measuring = false;
    tickDoc.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        if (!measuring) return out;
        const input = args.input as { Item?: { sk?: unknown }; RequestItems?: unknown };
        const cc = (out.output as { ConsumedCapacity?: unknown }).ConsumedCapacity;
        const units = Array.isArray(cc)
          ? cc.reduce((n: number, c: { CapacityUnits?: number }) => n + (c.CapacityUnits ?? 0), 0)
          : ((cc as { CapacityUnits?: number } | undefined)?.CapacityUnits ?? 0);
        const cmd = String(context.commandName);
        if (!cmd.startsWith('Put') && !cmd.startsWith('BatchWrite')) return out;
        const kind =
          input.Item !== undefined ? String(input.Item.sk).replace(/[#:].*$/, '') : `${cmd} (activity)`;
        wruByKind.set(kind, (wruByKind.get(kind) ?? 0) + units);
        if (input.Item !== undefined) {
          const bytes = JSON.stringify(input.Item).length;
          wruByKind.set(`${kind} bytes`, (wruByKind.get(`${kind} bytes`) ?? 0) + bytes);
          wruByKind.set(`${kind} items`, (wruByKind.get(`${kind} items`) ?? 0) + 1);
        }
        const batch = Object.values(
          (input.RequestItems ?? {}) as Record<
            string,
            { PutRequest?: { Item?: { kind?: string; linesz?: unknown } } }[]
          >,
        );
        for (const reqs of batch)
          for (const r of reqs) {
            const item = r.PutRequest?.Item;
            const k = `activity ${item?.kind ?? (item?.linesz !== undefined ? 'packed' : '?')}`;
            wruByKind.set(k, (wruByKind.get(k) ?? 0) + 1);
          }
        return out;
      },
      { step: 'initialize', name: 'scWruByKind' },
    );
    const setupTable = new TableClient(tickDoc, TABLE);

    // 10 s cadence (the issue's); EVENT_TIMEOUT long enough for the slowest default rule (8 × 10 s).
    await setupTable.put({
      ...keys.service('guardian'),
      name: 'guardian',
      config: {
        WINDOW_TIMELAPSE: 10,
        EVENT_TIMEOUT: 90,
        GUARDABLE_RESOURCES: ['cpu', 'mem'],
        ...o.guardian,
      },
      heartbeat: null,
      version: 1,
    });
    for (const r of DEFAULT_RULES) await setupTable.put({ ...keys.rule(r.name), ...r });

    // Virtual time: whole minutes, an hour or two in the past (VictoriaMetrics keeps a day).
    const totalMin = o.warmupMinutes + o.minutes;
    const start = Math.floor(Date.now() / 60_000) * 60_000 - (totalMin + 10) * 60_000;
    const measureFrom = start + o.warmupMinutes * 60_000;
    const end = measureFrom + o.minutes * 60_000;
    const prof = profiles(o.containers, start, end, o.seed);

    // Hosts, queues, containers, locators.
    const tickSqs = createSqsClient({ endpoint: sqsEmu.endpoint, region });
    const setupSqs = createSqsClient({ endpoint: sqsEmu.endpoint, region });
    cleanups.unshift(
      () => tickSqs.destroy(),
      () => setupSqs.destroy(),
    );
    const clock = new VirtualClock(start);

    // ---- what the functions log and send, by the real code (logger, EMF, HTTP to the metrics store, SQS)
    const namespace = 'serverless-containers-prod';
    invocationContext.fields = { requestId: randomUUID(), function: `${namespace}-controlTick` };
    cleanups.push(() => {
      invocationContext.fields = {};
    });
    const tickLog = new LogMeter();
    const tickLogger = createLogger('control-tick', { level: 'info', destination: tickLog.stream });
    const opsLog = { snapshoter: new LogMeter(), sanity: new LogMeter(), rebalancer: new LogMeter() };
    const emfTotals = { bytes: 0, events: 0 };
    const emfMetrics = new Set<string>();
    const addEmf = (e: { bytes: number; events: number; metrics: string[] }, into = emfTotals) => {
      into.bytes += e.bytes;
      into.events += e.events;
      for (const m of e.metrics) emfMetrics.add(m);
    };
    const rawFetch = globalThis.fetch;
    // the functions' traffic to the metrics store (reads and /api/put), not the emulator's flushes
    const metered = countingFetch(rawFetch, (url) => measuring && !url.pathname.startsWith('/internal'));
    globalThis.fetch = metered.fetch;
    cleanups.push(() => {
      globalThis.fetch = rawFetch;
    });
    const sqsHttp: HttpBytes = { requests: 0, sentBytes: 0, receivedBytes: 0 };
    const opsSqsHttp: HttpBytes = { requests: 0, sentBytes: 0, receivedBytes: 0 };
    const opsStore: HttpBytes = { requests: 0, sentBytes: 0, receivedBytes: 0 };

    // ---- the control tick, wired as the handler wires it
    const tickCount = newSqsCount();
    const dirtyQueues = new Set<string>();
    countSqs(tickSqs, tickCount, (q) => dirtyQueues.add(q));
    countSqsBytes(tickSqs, sqsHttp, () => measuring);
    const wiring = buildControlTick(
      readControlTickEnv({
        SC_TABLE: TABLE,
        SC_METRICS_BACKEND: 'prometheus',
        SC_METRICS_URL: vm.promUrl,
        SC_OPENTSDB_URL: vm.opentsdbUrl,
        SC_METRICS_BATCH_SIZE: '250',
        AWS_REGION: region,
      }),
      { dynamo: tickDoc, sqs: tickSqs, logger: tickLogger, clock },
    );

    // What every tick costs whatever the fleet (config, rules, host listing): one tick on an empty table.
    const c0 = { ...wiring.table.counters };
    await runTick({ ...wiring, logger: silentLogger }, start - 60_000);
    const fixedPerTick = {
      readUnits: wiring.table.counters.readUnits - c0.readUnits,
      // + the lease, written once per tick by either clock (1 WRU)
      writeUnits: wiring.table.counters.writeUnits - c0.writeUnits + 1,
    };
    const hostNames = Array.from({ length: hostsN }, (_, h) => `fh${h}`);
    const queues = new Map<string, string>();
    await mapLimit(hostNames, 8, async (h) => {
      queues.set(h, (await ensureHostQueues(setupSqs, h)).queueUrl);
    });
    const hostOfQueue = new Map([...queues].map(([h, q]) => [q, h]));
    const store = new ScalerStore(setupTable);
    const containerNames: string[] = [];
    const containerHost = new Map<string, string>();
    for (const [h, name] of hostNames.entries()) {
      let host = hostItem(name, queues.get(name) as string, o.perHost);
      for (let j = 0; j < o.perHost; j++) {
        const i = h * o.perHost + j;
        if (i >= o.containers) break;
        const c = `fc${i}`;
        const out = admitContainer(host, containerItem(c, name, prof[i] as Profile), start);
        if (!out.ok) throw new Error(out.reason);
        host = out.host;
        containerNames.push(c);
        containerHost.set(c, name);
        cg.addContainer(c);
      }
      await store.createHost(host);
    }
    await mapLimit(containerNames, 16, (c) => store.putLocator(c, containerHost.get(c) as string));
    say(`fleet: ${containerNames.length} containers on ${hostsN} hosts seeded`);

    // ---- the agents: one per host, each with its own lite clients (counted together)
    const agentSqs = new LiteSqs({ endpoint: sqsEmu.endpoint, region });
    const agentTable = new LiteTable(TABLE, { endpoint: ddb.endpoint, region });
    cleanups.unshift(
      () => agentSqs.destroy(),
      () => agentTable.destroy(),
    );
    const agentSqsCount = { idlePolls: 0, receives: 0, deletes: 0, requests: 0 };
    const ordersByKind = new Map<string, number>();
    const containerIndex = new Map(containerNames.map((c, i) => [c, i]));
    const applied = new Map<string, { cpu: number; mem: number }>();
    for (const [i, c] of containerNames.entries()) {
      const item = containerItem(c, containerHost.get(c) as string, prof[i] as Profile);
      applied.set(c, { cpu: item.resources.cpu?.current ?? 100, mem: item.resources.mem?.current ?? 1024 });
    }
    const agents = hostNames.map((host) => {
      // As the agent does (host-agent/agent.ts): landed reports and heartbeats are signs of life.
      const liveness = new Liveness();
      const state = provingStore(new DynamoAgentState(agentTable, host), liveness);
      const orders = new OrderService({
        host,
        finder: {
          async find(name) {
            if (containerHost.get(name) !== host) return null;
            return {
              cg: { name, version: 'v2', dirs: { unified: join(cgRoot, `lxc.payload.${name}`) } },
              veth: null,
              diskDevice: null,
              pid: null,
            };
          },
        },
        shaper: { readMbps: async () => null, setMbps: async () => undefined },
        store: state,
        clock,
        log: silentLogger,
        facts: {
          cpus: Array.from({ length: Math.ceil(o.perHost * 3.2) }, (_, i) => String(i)),
          memMiB: o.perHost * 6554,
        },
        cpuPeriodUs: 100_000,
        backoffMinMs: 200,
        backoffMaxMs: 20_000,
      });
      return { host, state, liveness, orders, queueUrl: queues.get(host) as string, pollFrom: start };
    });
    let heartbeats = 0;
    const heartbeat = async (a: (typeof agents)[number], at: number) => {
      await a.state.putHeartbeat({
        host: a.host,
        at,
        agentVersion: AGENT_VERSION,
        cgroupVersion: 'v2',
        containers: containerNames.filter((c) => containerHost.get(c) === a.host),
      });
      if (at >= measureFrom) heartbeats += 1;
    };
    // Agents start: applied versions, a first reconciliation reporting everything, a heartbeat.
    await mapLimit(agents, 8, async (a) => {
      await a.orders.loadApplied();
      await reconcileOnce(
        { host: a.host, store: a.state, orders: a.orders, log: silentLogger },
        { reportAll: true },
      );
      await heartbeat(a, start);
    });

    /** Orders sent since the last step: receive (one long poll returning them), apply, delete. */
    const drain = async (at: number) => {
      const hosts = [...dirtyQueues].map((q) => hostOfQueue.get(q));
      dirtyQueues.clear();
      const due = agents.filter((a) => hosts.includes(a.host));
      await mapLimit(due, 8, async (a) => {
        // Long polls that came back empty while nothing was sent.
        const idle = Math.floor((at - a.pollFrom) / 20_000);
        if (at >= measureFrom) agentSqsCount.idlePolls += idle;
        for (;;) {
          const msgs = await agentSqs.receiveMessage({
            QueueUrl: a.queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 0,
            VisibilityTimeout: 30,
            MessageSystemAttributeNames: ['ApproximateReceiveCount', 'MessageGroupId'],
          });
          if (msgs.length === 0) break;
          if (at >= measureFrom) agentSqsCount.receives += 1;
          for (const m of msgs) {
            const order = JSON.parse(m.Body ?? '{}');
            const d = await a.orders.handleOrder(order);
            if (d.kind === 'delete') {
              await agentSqs.deleteMessage({ QueueUrl: a.queueUrl, ReceiptHandle: m.ReceiptHandle ?? '' });
              if (at >= measureFrom) agentSqsCount.deletes += 1;
              if (at >= measureFrom) {
                const kind = prof[containerIndex.get(order.container) ?? 0]?.kind ?? 'steady';
                const dir = `${kind} ${Object.keys(order.limits)
                  .filter((k) => k !== 'cpuset')
                  .join('+')}`;
                ordersByKind.set(dir, (ordersByKind.get(dir) ?? 0) + 1);
              }
              const prev = applied.get(order.container) ?? { cpu: 100, mem: 1024 };
              applied.set(order.container, {
                cpu: order.limits.cpuShares ?? prev.cpu,
                mem: order.limits.memMiB ?? prev.mem,
              });
            }
          }
        }
        a.pollFrom = at;
      });
    };

    // ---- usage: BDWatchdog points every 5 s, capped by what the agents applied
    const noise = seeded(o.seed + 1);
    const writeUsage = async (at: number) => {
      const ts = String(Math.floor(at / 1000));
      const points: unknown[] = [];
      for (const [i, c] of containerNames.entries()) {
        const d = demand(prof[i] as Profile, at, noise);
        const lim = applied.get(c) ?? { cpu: 400, mem: 8192 };
        const cpu = Math.min(d.cpu, lim.cpu);
        const mem = Math.min(d.mem, lim.mem);
        const tags = { host: c, pid: '1', command: 'java' };
        points.push({ metric: 'proc.cpu.user', timestamp: ts, value: (cpu * 0.8).toFixed(2), tags });
        points.push({ metric: 'proc.cpu.kernel', timestamp: ts, value: (cpu * 0.2).toFixed(2), tags });
        points.push({ metric: 'proc.mem.resident', timestamp: ts, value: mem.toFixed(2), tags });
      }
      // BDWatchdog's feed, not the functions' traffic: the unmetered fetch
      const res = await rawFetch(`${vm.opentsdbUrl}/api/put`, {
        method: 'POST',
        body: JSON.stringify(points),
      });
      await res.text();
      await vm.flush();
    };
    // history before the first tick's window
    for (let t = start - 30_000; t <= start; t += 5000) await writeUsage(t);

    // ---- the ops functions, as their handlers run them (own table clients, counted apart)
    const opsTable = new TableClient(opsDoc, TABLE);
    const opsSqs = createSqsClient({ endpoint: sqsEmu.endpoint, region });
    cleanups.unshift(() => opsSqs.destroy());
    const opsCount = newSqsCount();
    countSqs(opsSqs, opsCount, (q) => dirtyQueues.add(q));
    countSqsBytes(opsSqs, opsSqsHttp, () => measuring);
    const opsMetrics = new PrometheusMetricsSource({ url: vm.promUrl, batchSize: 250 });
    // The snapshoter puts its series as deployed (OpenTSDB /api/put on VictoriaMetrics).
    const opsPoints = new OpenTsdbPutSink(vm.opentsdbUrl);
    // The ops functions as their handlers build them (functions/ops/wiring.ts), on the bench's clients.
    const opsClients = { table: opsTable, sqs: opsSqs, metrics: opsMetrics, points: opsPoints, clock };
    const opsEnv = readOpsEnv({ SC_TABLE: TABLE });
    const opsLogger = (name: keyof typeof opsLog) =>
      createLogger(name, { level: 'info', destination: opsLog[name].stream });
    const opsFunctions = {
      snapshoter: buildSnapshoter(opsEnv, { ...opsClients, logger: opsLogger('snapshoter') }),
      sanity: buildSanity(opsEnv, { ...opsClients, logger: opsLogger('sanity') }),
      rebalancer: buildRebalancer(opsEnv, { ...opsClients, logger: opsLogger('rebalancer') }),
    };
    const opsEmf = { snapshoter: new LogMeter(), sanity: new LogMeter(), rebalancer: new LogMeter() };
    /** Wall time of each ops invocation, ms (what Lambda would bill, emulator latency included). */
    const opsBilledMs = { snapshoter: [] as number[], sanity: [] as number[], rebalancer: [] as number[] };

    clock.world = async (at: number) => {
      // The window starts before this step's work (the ops' first invocation included).
      if (at === measureFrom) snapshotCounters();
      const tasks: Promise<unknown>[] = [];
      if (at % 5000 === 0) tasks.push(writeUsage(at));
      if (dirtyQueues.size > 0) tasks.push(drain(at));
      const hbEvery = o.heartbeatS * 1000;
      const recEvery = o.reconcileS * 1000;
      for (const [k, a] of agents.entries()) {
        // agents are not in step with each other: each its own phase
        const phase = (k * 997) % 1000;
        if (a.liveness.dueAt(hbEvery, at) <= at) tasks.push(heartbeat(a, at));
        if ((at - start + phase * 30) % recEvery < 1000)
          tasks.push(
            reconcileOnce(
              { host: a.host, store: a.state, orders: a.orders, log: silentLogger },
              { reportAll: false },
            ),
          );
      }
      const opsUntil = measureFrom + o.opsMinutes * 60_000;
      // While the world steps the tick waits: metered store traffic in a step with ops is theirs.
      const store0 = { ...metered.bytes };
      const opsNow = at >= measureFrom && at < opsUntil && (at - start) % 60_000 === 0;
      if (at >= measureFrom && at < opsUntil) {
        const rel = at - start;
        if (rel % 60_000 === 0) {
          // Each scheduled invocation as its handler runs it (functions/handlers/*: the builder's
          // invoke, reading the service's config). At the defaults none of them waits (inactive, or a
          // period of a minute: one round), so each is billed the wall time it took here.
          const invoke = (name: keyof typeof opsFunctions) =>
            (async () => {
              const t0 = performance.now();
              const r = await opsFunctions[name].invoke({
                awsRequestId: `inv-${at}`,
                getRemainingTimeInMillis: () => 55_000,
              });
              opsBilledMs[name].push(performance.now() - t0);
              // the handler's metrics (functions/handlers/*.ts): the sweep's findings, none for the others
              const e = emfOf(name, namespace, (m) => {
                if (name === 'sanity')
                  sanityRoundsMetrics(m, r.results as Parameters<typeof sanityRoundsMetrics>[1]);
              });
              opsEmf[name].bytes += e.bytes;
              opsEmf[name].events += e.events;
              for (const id of e.metrics) emfMetrics.add(id);
            })();
          tasks.push(invoke('snapshoter'), invoke('sanity'), invoke('rebalancer'));
        }
      }
      await Promise.all(tasks);
      if (opsNow)
        for (const k of ['requests', 'sentBytes', 'receivedBytes'] as const)
          opsStore[k] += metered.bytes[k] - store0[k];
    };

    // ---- counters at the start of the measured window
    let base = {
      tick: { ...wiring.table.counters },
      agent: { ...agentTable.counters },
      ops: { ...opsTable.counters },
      tickSqs: { calls: tickCount.calls, requests: tickCount.requests },
      opsSqs: { calls: opsCount.calls, requests: opsCount.requests },
      orders: 0,
    };
    let agentBytesBase = 0;
    const snapshotCounters = () => {
      agentBytesBase = agentTable.httpBytes.received + agentSqs.httpBytes.received;
      base = {
        tick: { ...wiring.table.counters },
        agent: { ...agentTable.counters },
        ops: { ...opsTable.counters },
        tickSqs: { calls: tickCount.calls, requests: tickCount.requests },
        opsSqs: { calls: opsCount.calls, requests: opsCount.requests },
        orders: wiring.sent.orders,
      };
      measuring = true;
      tickLog.take();
      for (const m of [...Object.values(opsLog), ...Object.values(opsEmf)]) m.take();
      emfTotals.bytes = 0;
      emfTotals.events = 0;
      for (const a of agents) a.pollFrom = Math.max(a.pollFrom, measureFrom);
    };

    // ---- the control tick's clock
    const tickWallMs: number[] = [];
    const invocationBilledS: number[] = [];
    const clockQueue = { sends: 0, watchdogs: 0, watchdogMs: [] as number[] };
    let ticks = 0;
    let requests = 0;
    const requestsByRule = new Map<string, number>();
    const tickDeps = {
      state: wiring.state,
      metrics: wiring.metrics,
      sink: wiring.sink,
      activity: wiring.activity,
      logger: tickLogger,
      clock,
    };
    const counted = (rep: TickReport, wallMs: number) => {
      if (rep.at < measureFrom || rep.at > end) return;
      ticks += 1;
      tickWallMs.push(wallMs);
      requests += rep.requests.length;
      for (const q of rep.requests) {
        const kind = prof[containerIndex.get(q.structure) ?? 0]?.kind ?? 'steady';
        const rule = q.reasons.map((x) => x.source).join('+') || '?';
        const k = `${kind} ${q.resource} ${q.amount > 0 ? 'up' : 'down'} ${rule}`;
        requestsByRule.set(k, (requestsByRule.get(k) ?? 0) + 1);
      }
    };
    const progress = (at: number) => {
      if (o.signal?.aborted) throw new Error('fleet measurement interrupted');
      if (at >= measureFrom && (at - measureFrom) % (10 * 60_000) === 0)
        say(
          `fleet: minute ${(at - measureFrom) / 60_000}: ${ticks} ticks, ${wiring.sent.orders - base.orders} orders, load ${loadavg()[0]?.toFixed(1)}`,
        );
    };
    if (o.clock === 'invocation') {
      // EventBridge: one invocation a minute (timeout 70 s, as deployed).
      for (let minute = start; minute < end; minute += 60_000) {
        if (clock.t < minute) await clock.sleep(minute - clock.t);
        const sent0 = wiring.sent.orders;
        const r = await runTicks(
          { ...tickDeps, owner: `inv-${minute}` },
          { deadlineMs: minute + 70_000, reserveMs: 1500, waitForLeaseMs: 70_000 },
        );
        if (minute >= measureFrom)
          addEmf(
            emfOf('controlTick', namespace, (m) =>
              tickMetrics(m, {
                reports: r.reports,
                failed: 0,
                agesMs: [],
                ordersSent: wiring.sent.orders - sent0,
              }),
            ),
          );
        // Checkpoint and lease release take about a second; the next invocation waits for them.
        await clock.sleep(1000);
        for (const rep of r.reports) counted(rep, rep.ms);
        if (minute >= measureFrom) invocationBilledS.push((clock.t - minute) / 1000);
        progress(minute);
      }
    } else {
      // SQS delay queue + event source mapping: one tick per invocation; the minute's schedule is a watchdog.
      type Pending = { msg: ChainMessage; visibleAt: number } | null;
      const box: { pending: Pending } = { pending: null };
      const scheduler: TickScheduler = {
        async schedule(msg, delayS) {
          box.pending = { msg, visibleAt: clock.now() + delayS * 1000 };
          if (clock.now() >= measureFrom) clockQueue.sends += 1;
        },
      };
      const state = newChainState();
      let lastWatchdog = start; // the invocation at `start` is the one that starts the chain
      await watchdog({ state: wiring.state, clock, scheduler, logger: tickLogger }, 10);
      while (clock.t < end) {
        if (o.signal?.aborted) throw new Error('fleet measurement interrupted');
        const due = box.pending;
        if (due === null) throw new Error('the clock chain stopped');
        box.pending = null;
        // the scheduled watchdog invocations between now and the next tick
        while (lastWatchdog + 60_000 <= due.visibleAt) {
          lastWatchdog += 60_000;
          if (clock.t < lastWatchdog) await clock.sleep(lastWatchdog - clock.t);
          const t0 = performance.now();
          const keep: Pending = box.pending;
          const w = await watchdog({ state: wiring.state, clock, scheduler, logger: tickLogger }, 10);
          if (!w.alive) throw new Error('the watchdog found the chain dead while it was ticking');
          box.pending = keep;
          if (lastWatchdog >= measureFrom) {
            clockQueue.watchdogs += 1;
            clockQueue.watchdogMs.push(performance.now() - t0);
          }
          progress(lastWatchdog);
        }
        if (clock.t < due.visibleAt) await clock.sleep(due.visibleAt - clock.t);
        const t0 = performance.now();
        const v0 = clock.t; // a tick whose message came early sleeps (virtually) until its time: billed too
        const sent0 = wiring.sent.orders;
        const out = await runChainedTick(
          {
            ...tickDeps,
            scheduler,
            proc: 'fleet-env-1',
            checkpointEveryMs: o.checkpointEveryMs,
            fullReadEveryMs: o.fullReadEveryMs,
          },
          state,
          due.msg,
        );
        const wall = performance.now() - t0 + (clock.t - v0);
        // the handler's metrics for this message (functions/handlers/control-tick.ts)
        if (v0 >= measureFrom)
          addEmf(
            emfOf('controlTick', namespace, (m) => chainMetrics(m, [out], v0, wiring.sent.orders - sent0)),
          );
        if (out.ran && out.report !== null) {
          counted(out.report, wall);
          if (out.report.at >= measureFrom) invocationBilledS.push(Math.ceil(wall) / 1000);
        }
      }
    }
    await drain(clock.t);
    for (const a of agents) agentSqsCount.idlePolls += Math.floor((clock.t - a.pollFrom) / 20_000);

    const part = (
      now: { reads: number; writes: number; readUnits: number; writeUnits: number },
      was: { reads: number; writes: number; readUnits: number; writeUnits: number },
    ): PartCounts => ({
      ddbReads: now.reads - was.reads,
      ddbWrites: now.writes - was.writes,
      rru: now.readUnits - was.readUnits,
      wru: now.writeUnits - was.writeUnits,
      sqsCalls: 0,
      sqsRequests: 0,
    });
    const controlTick = part(wiring.table.counters, base.tick);
    controlTick.sqsCalls = tickCount.calls - base.tickSqs.calls;
    controlTick.sqsRequests = tickCount.requests - base.tickSqs.requests;
    const agentsPart = part(agentTable.counters, base.agent);
    agentsPart.sqsRequests = agentSqsCount.idlePolls + agentSqsCount.receives + agentSqsCount.deletes;
    const agentBytesMeasured = agentTable.httpBytes.received + agentSqs.httpBytes.received - agentBytesBase;
    // One empty receive (every queue is drained): what each idle long poll brings back.
    const emptyPoll0 = agentSqs.httpBytes.received;
    await agentSqs.receiveMessage({
      QueueUrl: agents[0]?.queueUrl ?? '',
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
      VisibilityTimeout: 30,
      MessageSystemAttributeNames: ['ApproximateReceiveCount', 'MessageGroupId'],
    });
    const emptyPollBytes = agentSqs.httpBytes.received - emptyPoll0;
    agentsPart.sqsCalls = agentsPart.sqsRequests;
    const opsPart = part(opsTable.counters, base.ops);
    opsPart.sqsCalls = opsCount.calls - base.opsSqs.calls;
    opsPart.sqsRequests = opsCount.requests - base.opsSqs.requests;
    // ops ran for opsMinutes of the window: scale them to the whole of it
    const opsScale = o.opsMinutes === 0 ? 0 : (clock.t - measureFrom) / (o.opsMinutes * 60_000);
    for (const k of Object.keys(opsPart) as (keyof PartCounts)[]) opsPart[k] *= opsScale;

    const seconds = (clock.t - measureFrom) / 1000;
    const containerHours = (o.containers * seconds) / 3600;
    const orders = wiring.sent.orders - base.orders;
    const meanS = (xs: readonly number[]) =>
      xs.length === 0 ? 0 : Math.ceil(xs.reduce((a, b) => a + b, 0) / xs.length) / 1000;
    const opsBilledS = Object.fromEntries(Object.entries(opsBilledMs).map(([k, v]) => [k, meanS(v)]));
    const counts = toLoopCounts(
      o,
      { controlTick, agents: agentsPart, ops: opsPart },
      seconds,
      ticks,
      invocationBilledS,
      clockQueue,
      fixedPerTick,
      opsBilledS,
    );
    const noOps: PartCounts = { ddbReads: 0, ddbWrites: 0, rru: 0, wru: 0, sqsCalls: 0, sqsRequests: 0 };
    const loopCounts = toLoopCounts(
      { ...o, opsMinutes: 0 },
      { controlTick, agents: agentsPart, ops: noOps },
      seconds,
      ticks,
      invocationBilledS,
      clockQueue,
      fixedPerTick,
    );
    const scaled = (m: { bytes: number; events: number }) => ({
      bytes: m.bytes * opsScale,
      events: m.events * opsScale,
    });
    const tickLines = tickLog.take();
    const opsLogs = Object.fromEntries(
      (Object.keys(opsLog) as (keyof typeof opsLog)[]).map((k) => {
        const lines = opsLog[k].take();
        const emf = opsEmf[k].take();
        return [k, scaled({ bytes: lines.bytes + emf.bytes, events: lines.events + emf.events })];
      }),
    );
    const storeTotal = { ...metered.bytes };
    return {
      agentsReceivedBytes: agentBytesMeasured + agentSqsCount.idlePolls * emptyPollBytes,
      logs: {
        tick: { bytes: tickLines.bytes + emfTotals.bytes, events: tickLines.events + emfTotals.events },
        watchdogEmf: (() => {
          const e = emfOf('controlTick', namespace, () => undefined);
          return { bytes: e.bytes, events: e.events };
        })(),
        ops: opsLogs,
      },
      emfMetrics: [...emfMetrics].sort(),
      metricsStore: {
        requests: storeTotal.requests - opsStore.requests + opsStore.requests * opsScale,
        sentBytes: storeTotal.sentBytes - opsStore.sentBytes + opsStore.sentBytes * opsScale,
        receivedBytes: storeTotal.receivedBytes - opsStore.receivedBytes + opsStore.receivedBytes * opsScale,
      },
      sqsHttp: {
        requests: sqsHttp.requests + opsSqsHttp.requests * opsScale,
        sentBytes: sqsHttp.sentBytes + opsSqsHttp.sentBytes * opsScale,
        receivedBytes: sqsHttp.receivedBytes + opsSqsHttp.receivedBytes * opsScale,
      },
      options: o,
      hosts: hostsN,
      loopCounts,
      measuredSeconds: seconds,
      ticks,
      actionsPerContainerHour: orders / containerHours,
      requestsPerContainerHour: requests / containerHours,
      parts: { controlTick, agents: agentsPart, ops: opsPart },
      wruByKind: Object.fromEntries(wruByKind),
      ordersByKind: Object.fromEntries(ordersByKind),
      actionsPerContainerHourByClass: Object.fromEntries(
        (['steady', 'diurnal', 'batch'] as const).map((kind) => {
          const n = prof.slice(0, o.containers).filter((p) => p.kind === kind).length;
          const sum = [...ordersByKind]
            .filter(([k]) => k.startsWith(`${kind} `))
            .reduce((a, [, v]) => a + v, 0);
          return [kind, n === 0 ? 0 : round2(sum / ((n * seconds) / 3600))];
        }),
      ),
      requestsByRule: Object.fromEntries([...requestsByRule].sort((a, b) => b[1] - a[1])),
      agentSqs: {
        idlePolls: agentSqsCount.idlePolls,
        receives: agentSqsCount.receives,
        deletes: agentSqsCount.deletes,
      },
      heartbeats,
      tickWallMs,
      invocationBilledS,
      opsBilledS,
      clockQueue,
      counts,
      wallS: (performance.now() - wall0) / 1000,
      loadAvg: Number(loadavg()[0]?.toFixed(1)),
    };
  } finally {
    for (const c of cleanups) await Promise.resolve(c()).catch(() => undefined);
  }
}

/**
 * The measured window as the model's counts: everything the control tick and
 * the ops did is per container-tick (the fleet was fixed), the agents' part per
 * host-month; Lambda as the invocations ran.
 */
export function toLoopCounts(
  o: FleetOptions,
  parts: FleetRun['parts'],
  seconds: number,
  ticks: number,
  invocationBilledS: readonly number[],
  clockQueue: FleetRun['clockQueue'] = { sends: 0, watchdogs: 0, watchdogMs: [] },
  fixedPerTick: { readUnits: number; writeUnits: number } = { readUnits: 0, writeUnits: 0 },
  /** Billed seconds per invocation of each ops function (measured); default 50 s (looping until 5 s before the 55 s timeout). */
  opsBilledS: Readonly<Record<string, number>> = {},
): LoopCounts {
  const containerTicks = o.containers * ticks;
  const hosts = Math.ceil(o.containers / o.perHost);
  const perHostMonth = SECONDS_PER_MONTH / seconds / hosts;
  const central = {
    rru: Math.max(0, parts.controlTick.rru - fixedPerTick.readUnits * ticks) + parts.ops.rru,
    wru: Math.max(0, parts.controlTick.wru - fixedPerTick.writeUnits * ticks) + parts.ops.wru,
    sqs: parts.controlTick.sqsRequests + parts.ops.sqsRequests,
  };
  const minutesPerMonth = SECONDS_PER_MONTH / 60;
  const mean = (xs: readonly number[]) => (xs.length === 0 ? 0 : xs.reduce((s, x) => s + x, 0) / xs.length);
  const perMonth = SECONDS_PER_MONTH / seconds;
  const functions: FunctionUsage[] =
    o.clock === 'invocation'
      ? [
          {
            name: 'control-tick',
            memoryMiB: o.controlTickMiB,
            arch: 'arm64',
            invocationsPerMonth: minutesPerMonth,
            billedSecondsPerInvocation: mean(invocationBilledS),
            scheduledPerMonth: minutesPerMonth,
          },
        ]
      : [
          {
            name: 'control-tick (clock messages)',
            memoryMiB: o.controlTickMiB,
            arch: 'arm64',
            invocationsPerMonth: invocationBilledS.length * perMonth,
            billedSecondsPerInvocation: mean(invocationBilledS),
            scheduledPerMonth: 0,
          },
          {
            name: 'control-tick (watchdog)',
            memoryMiB: o.controlTickMiB,
            arch: 'arm64',
            invocationsPerMonth: minutesPerMonth,
            billedSecondsPerInvocation: Math.ceil(mean(clockQueue.watchdogMs)) / 1000,
            scheduledPerMonth: minutesPerMonth,
          },
        ];
  if (o.opsMinutes > 0)
    for (const name of ['snapshoter', 'sanity', 'rebalancer'])
      functions.push({
        name,
        memoryMiB: o.opsMiB,
        arch: 'arm64',
        invocationsPerMonth: minutesPerMonth,
        billedSecondsPerInvocation: opsBilledS[name] ?? 50,
        scheduledPerMonth: minutesPerMonth,
      });
  // The clock queue (standard): our sends, and the event source mapping's receives and deletes —
  // AWS documents five pollers long-polling (20 s) while the queue is idle, and one DeleteMessageBatch
  // per batch; those requests are billed to the account like any other.
  const clockQueueRequests =
    o.clock === 'queue' ? clockQueue.sends * perMonth * 2 + 5 * (SECONDS_PER_MONTH / 20) : 0;
  return {
    clockQueueRequestsPerMonth: clockQueueRequests,
    perContainerTick: {
      readUnits: central.rru / containerTicks,
      writeUnits: central.wru / containerTicks,
      sqsRequests: central.sqs / containerTicks,
      logBytes: 0,
    },
    perTick: { ...fixedPerTick, logBytes: 0 },
    perHostMonth: {
      sqsRequests: parts.agents.sqsRequests * perHostMonth,
      writeUnits: parts.agents.wru * perHostMonth,
      readUnits: parts.agents.rru * perHostMonth,
      logBytes: 0,
    },
    functions,
  };
}

/**
 * What the complete figure assumes beyond what a run measures (docs/cost.md "What the figure assumes").
 * - Cold starts: Lambda replaces execution environments on a schedule it does not publish; assumed
 *   once an hour per environment, two environments for the control tick (a watchdog invocation may
 *   overlap a tick), one for each other function.
 * - The API is operator traffic: assumed 100,000 requests a month (a script or dashboard polling
 *   every ≈ 26 s around the clock), 0.1 s billed each at the function's 256 MiB.
 * - KMS callers: one role per function and one per host (host-agent/iam/host-role.json).
 */
export const PLATFORM_ASSUMPTIONS = {
  environmentReplacementsPerHour: 1,
  controlTickEnvironments: 2,
  api: { requestsPerMonth: 100_000, billedSeconds: 0.1, memoryMiB: 256 },
  functionRoles: 5,
} as const;

/** The deployment the figure is priced for: the template's facts, INIT measured per handler, the network path. */
export interface Deployment {
  template: TemplateFacts;
  /** INIT per function (serverless.yml name), ms: measureInitMs of its bundle. */
  initMs: Readonly<Record<string, number>>;
  network: NetworkPath;
}

/**
 * The run's counts with the platform priced too: logs, INIT, metrics, traces, KMS, the API, the
 * network. Priced for `containers` (default: the run's fleet), the bytes that grow with the fleet
 * (to the metrics store, SQS, the agents) and the host roles scale with it.
 */
export function completeCounts(
  run: FleetRun,
  d: Deployment,
  containers = run.options.containers,
): LoopCounts {
  const a = PLATFORM_ASSUMPTIONS;
  const fleetScale = containers / run.options.containers;
  const perMonth = (SECONDS_PER_MONTH / run.measuredSeconds) * fleetScale;
  const minutes = run.measuredSeconds / 60;
  const traced = d.template.tracing;
  const platformLog = (memoryMiB: number) => lambdaPlatformLog({ memoryMiB, traced, coldStart: false });
  const plus = (x: { bytes: number; events: number }, y: { bytes: number; events: number }) => ({
    bytes: x.bytes + y.bytes,
    events: x.events + y.events,
  });
  const per = (x: { bytes: number; events: number }, n: number) => ({
    bytes: n === 0 ? 0 : x.bytes / n,
    events: n === 0 ? 0 : x.events / n,
  });
  const cold = (fn: string, environments = 1) => ({
    perMonth: HOURS_PER_MONTH * a.environmentReplacementsPerHour * environments,
    initSeconds: (d.initMs[fn] ?? 0) / 1000,
  });
  const functions: FunctionUsage[] = run.counts.functions.map((f) => {
    if (f.name === 'control-tick (watchdog)')
      return { ...f, log: plus(run.logs.watchdogEmf, platformLog(f.memoryMiB)) };
    if (f.name.startsWith('control-tick'))
      return {
        ...f,
        // the tick's lines and EMF (the watchdogs' few lines included) over the ticks that wrote them
        log: plus(per(run.logs.tick, run.invocationBilledS.length), platformLog(f.memoryMiB)),
        coldStarts: cold('controlTick', a.controlTickEnvironments),
      };
    const ops = run.logs.ops[f.name];
    return {
      ...f,
      ...(ops === undefined ? {} : { log: plus(per(ops, minutes), platformLog(f.memoryMiB)) }),
      coldStarts: cold(f.name),
    };
  });
  functions.push({
    name: 'api (operator requests, assumed)',
    memoryMiB: a.api.memoryMiB,
    arch: 'arm64',
    invocationsPerMonth: a.api.requestsPerMonth,
    billedSecondsPerInvocation: a.api.billedSeconds,
    scheduledPerMonth: 0,
    log: plus(run.logs.watchdogEmf, platformLog(a.api.memoryMiB)), // its handler adds no metrics
    coldStarts: cold('api'),
  });
  const coldStartMetrics = Object.keys(d.initMs).length;
  return {
    ...run.counts,
    functions,
    platform: {
      logRetentionDays: d.template.logRetentionDays,
      metricsStore: {
        sentBytesPerMonth: run.metricsStore.sentBytes * perMonth,
        receivedBytesPerMonth: run.metricsStore.receivedBytes * perMonth,
      },
      sqsBytesPerMonth: (run.sqsHttp.sentBytes + run.sqsHttp.receivedBytes) * perMonth,
      agentsReceivedBytesPerMonth: run.agentsReceivedBytes * perMonth,
      apiRequestsPerMonth: a.api.requestsPerMonth,
      tableKey: {
        kind: d.template.tableKey,
        callers: a.functionRoles + Math.ceil(containers / run.options.perHost),
      },
      // the EMF metrics seen, and Powertools' ColdStart (service + function_name) of each function
      customMetrics: run.emfMetrics.length + coldStartMetrics,
      alarmMetrics: d.template.alarmMetrics,
      dashboards: d.template.dashboards,
      tracesPerMonth: traced ? functions.reduce((n, f) => n + f.invocationsPerMonth, 0) : 0,
      network: d.network,
    },
  };
}

/**
 * Priced: the 1,000-container figure and its lines. Without a deployment, requests only (DynamoDB,
 * SQS, Lambda duration, EventBridge: the figure as it was before the platform was priced).
 */
export function priceFleet(run: FleetRun, containers = run.options.containers, deployment?: Deployment) {
  return estimateMonthlyCost(
    deployment === undefined ? run.counts : completeCounts(run, deployment, containers),
    {
      containers,
      containersPerHost: run.options.perHost,
      tickSeconds: run.measuredSeconds / run.ticks,
    },
  );
}

/** The deployment as serverless.yml describes it, INIT measured on this machine, over `network`. */
export async function deploymentOf(network: NetworkPath = { kind: 'public' }): Promise<Deployment> {
  const root = join(import.meta.dirname, '..');
  const template = templateFacts(readFileSync(join(root, 'serverless.yml'), 'utf8'));
  const env = {
    SC_TABLE: 'serverless-containers-prod-state',
    SC_QUEUE_PREFIX: 'serverless-containers-prod-',
    SC_ACTIVITY_RETENTION_DAYS: '7',
    SC_METRICS_BACKEND: 'opentsdb',
    SC_METRICS_URL: 'https://tsd.example.net:4242',
    SC_OPENTSDB_URL: 'https://tsd.example.net:4242',
    SC_CONTROL_CLOCK: 'queue',
    SC_CLOCK_QUEUE_URL:
      'https://sqs.us-east-1.amazonaws.com/123456789012/serverless-containers-prod-control-clock',
    POWERTOOLS_METRICS_NAMESPACE: 'serverless-containers-prod',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'unused',
    AWS_SECRET_ACCESS_KEY: 'unused',
  };
  const handlers = {
    controlTick: 'control-tick',
    api: 'api',
    sanity: 'sanity',
    snapshoter: 'snapshoter',
    rebalancer: 'rebalancer',
  };
  const initMs: Record<string, number> = {};
  for (const [fn, file] of Object.entries(handlers))
    initMs[fn] = await measureInitMs(join(root, 'functions/handlers', `${file}.ts`), env);
  return { template, initMs, network };
}

// ---------------------------------------------------------------- figures

const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * Runs the fleet `runs` times as deployed (serverless.yml, the agent's defaults) and emits
 * `<prefix>.cost_per_1000_usd_month` (median), the same at 10,000 containers (the measured
 * counts priced for the larger fleet: fixed costs spread further), and the breakdown as log lines.
 */
export async function emitFleetCost(
  emit: Emit,
  prefix: string,
  opts: Partial<FleetOptions> & { runs?: number } = {},
): Promise<FleetRun[]> {
  const say = (l: string) => process.stderr.write(`  ${l}\n`);
  const { runs: n = 3, ...fleet } = opts;
  const runs: FleetRun[] = [];
  // The deployment priced: serverless.yml's facts and each handler's INIT, measured once.
  const deployment = await deploymentOf({ kind: 'public' });
  say(
    `deployment: ${JSON.stringify(deployment.template)}; INIT ms (bundle loaded in a fresh Node): ${JSON.stringify(
      Object.fromEntries(Object.entries(deployment.initMs).map(([k, v]) => [k, Math.round(v)])),
    )}`,
  );
  const networks: Record<string, NetworkPath> = {
    public: { kind: 'public' },
    vpc_nat: { kind: 'vpc-nat', azs: 2 },
    vpc_endpoints: { kind: 'vpc-endpoints', azs: 2, endpoints: 1 },
  };
  const complete = (
    r: FleetRun,
    containers = r.options.containers,
    network = networks.public as NetworkPath,
  ) => priceFleet(r, containers, { ...deployment, network });
  for (let i = 0; i < n && fleet.signal?.aborted !== true; i++) {
    const r = await measureFleet({ log: say, seed: DEFAULT_FLEET.seed + i, ...fleet });
    const before = priceFleet(r, r.options.containers);
    const e = complete(r);
    say(
      `fleet run ${i + 1}/${n}: $${e.usdPer1000ContainersPerMonth.toFixed(2)} per 1,000 containers per month (requests only: $${before.usdPer1000ContainersPerMonth.toFixed(2)}); ${r.actionsPerContainerHour.toFixed(2)} scale actions per container-hour; ${r.ticks} ticks; ${Math.round(r.wallS)} s wall; load ${r.loadAvg}`,
    );
    say(
      `logs in the window: control tick ${r.logs.tick.events} lines, ${r.logs.tick.bytes} B over ${r.invocationBilledS.length} ticks; ops ${JSON.stringify(r.logs.ops)}; EMF metrics ${r.emfMetrics.length}; metrics store ${JSON.stringify(r.metricsStore)}; SQS HTTP ${JSON.stringify(r.sqsHttp)}; to the agents ${Math.round(r.agentsReceivedBytes)} B`,
    );
    say(
      `agents: ${r.heartbeats} heartbeats, ${r.agentSqs.deletes} orders applied in ${Math.round(r.measuredSeconds / 60)} measured minutes`,
    );
    say(
      `ops invocations (wall, billed): ${Object.entries(r.opsBilledS)
        .map(([k, v]) => `${k} ${v.toFixed(3)} s`)
        .join(', ')}`,
    );
    say(
      `scale actions per container-hour by class: ${Object.entries(r.actionsPerContainerHourByClass)
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(', ')}; orders by class and limits: ${JSON.stringify(r.ordersByKind)}`,
    );
    say(`guardian requests by class, resource, direction and rule: ${JSON.stringify(r.requestsByRule)}`);
    const per10Min = 600 / r.measuredSeconds;
    say(
      `control tick writes per 10 min by item kind (WRU; "activity <kind>": lines, "activity packed": packed items): ${Object.entries(
        r.wruByKind,
      )
        .filter(([k]) => !k.endsWith(' bytes') && !k.endsWith(' items'))
        .map(([k, v]) => `${k} ${Math.round(v * per10Min).toLocaleString('en')}`)
        .join(', ')}`,
    );
    runs.push(r);
  }
  const byCost = [...runs].sort((a, b) => complete(a).totalUsdPerMonth - complete(b).totalUsdPerMonth);
  const mid = byCost[Math.floor((byCost.length - 1) / 2)] as FleetRun;
  const est = complete(mid);
  for (const l of est.lines)
    if (l.usdPerMonth >= 0.005)
      say(
        `cost: ${l.service} ${l.item}: ${Math.round(l.quantityPerMonth).toLocaleString('en')} ${l.unit} → $${l.usdPerMonth.toFixed(2)}`,
      );
  const group = (f: (l: CostLine) => boolean) =>
    round2(est.lines.filter(f).reduce((s, l) => s + l.usdPerMonth, 0));
  const o = mid.options;
  const common = {
    containers: o.containers,
    hosts: mid.hosts,
    containersPerHost: o.perHost,
    clock: o.clock,
    heartbeatS: o.heartbeatS,
    measuredMinutes: o.minutes,
    ticks: mid.ticks,
    runs: runs.length,
    scaleActionsPerContainerHour: round2(mid.actionsPerContainerHour),
    steadyScaleActionsPerContainerHour: mid.actionsPerContainerHourByClass.steady ?? null,
    diurnalScaleActionsPerContainerHour: mid.actionsPerContainerHourByClass.diurnal ?? null,
    batchScaleActionsPerContainerHour: mid.actionsPerContainerHourByClass.batch ?? null,
    guardianRequestsPerContainerHour: round2(mid.requestsPerContainerHour),
    workload: `steady ${WORKLOAD.steady * 100} %, diurnal ${WORKLOAD.diurnal * 100} %, batch ${WORKLOAD.batch * 100} %`,
    loadAvg: mid.loadAvg,
  };
  emit({
    name: `${prefix}.cost_per_1000_usd_month`,
    value: round2(median(runs.map((r) => complete(r).usdPer1000ContainersPerMonth))),
    unit: 'USD/month',
    ...common,
    topology:
      'functions outside a VPC, the metrics store behind an authenticated HTTPS front (README "Deploy"); serverless.yml as is',
    logsUsd: group((l) => l.service === 'CloudWatch Logs'),
    cloudwatchUsd: group((l) => l.service === 'CloudWatch'),
    xrayUsd: group((l) => l.service === 'X-Ray'),
    kmsUsd: group((l) => l.service === 'KMS'),
    apiGatewayUsd: group((l) => l.service === 'API Gateway'),
    networkUsd: group((l) => l.service === 'Network'),
    initUsd: group((l) => l.item.includes('INIT')),
    dynamoReadsUsd: group((l) => l.service === 'DynamoDB' && l.unit === 'RRU'),
    dynamoWritesUsd: group((l) => l.service === 'DynamoDB' && l.unit === 'WRU'),
    sqsUsd: group((l) => l.service === 'SQS'),
    lambdaUsd: group((l) => l.service === 'Lambda' || l.service === 'EventBridge'),
    controlLoopLambdaUsd: group((l) => l.item.startsWith('control-tick')),
    opsLambdaUsd: group((l) => /^(snapshoter|sanity|rebalancer)/.test(l.item)),
    agentsUsd: group((l) => l.item.includes('agent')),
  });
  emit({
    name: `${prefix}.cost_per_1000_usd_month_requests_only`,
    value: round2(median(runs.map((r) => priceFleet(r).usdPer1000ContainersPerMonth))),
    unit: 'USD/month',
    ...common,
    note: 'the figure as priced before: DynamoDB, SQS, Lambda duration and EventBridge only (no logs, INIT, metrics, traces, KMS, API, network)',
  });
  for (const [key, network] of Object.entries(networks)) {
    if (key === 'public') continue;
    emit({
      name: `${prefix}.cost_per_1000_usd_month_${key}`,
      value: round2(
        median(runs.map((r) => complete(r, r.options.containers, network).usdPer1000ContainersPerMonth)),
      ),
      unit: 'USD/month',
      ...common,
      topology:
        key === 'vpc_nat'
          ? 'functions in a VPC over 2 zones: a NAT gateway per zone for SQS, DynamoDB through its gateway endpoint, the metrics store over a Site-to-Site VPN'
          : 'functions in a VPC over 2 zones: an SQS interface endpoint per zone, DynamoDB through its gateway endpoint, the metrics store over a Site-to-Site VPN',
    });
  }
  const loopOnly = (r: FleetRun) =>
    estimateMonthlyCost(r.loopCounts, {
      containers: r.options.containers,
      containersPerHost: r.options.perHost,
      tickSeconds: 10,
    }).usdPer1000ContainersPerMonth;
  emit({
    name: `${prefix}.cost_per_1000_usd_month_control_loop`,
    value: round2(median(runs.map(loopOnly))),
    unit: 'USD/month',
    ...common,
    note: 'control tick (Guardian → Planner → orders) and the agents only, requests only: without the snapshoter, sanity sweep, rebalancer and the platform',
  });
  const at10k = estimateMonthlyCost(completeCounts(mid, deployment, 10_000), {
    containers: 10_000,
    containersPerHost: o.perHost,
    tickSeconds: 10,
  });
  emit({
    name: `${prefix}.cost_per_1000_usd_month_at_10k`,
    value: round2(at10k.usdPer1000ContainersPerMonth),
    unit: 'USD/month',
    ...common,
    note: 'counts measured at 1,000 containers priced for 10,000 (per-container and per-host parts scale, the clock and per-tick reads do not)',
  });
  return runs;
}

/**
 * `npm run bench -- fleet-cost`: the deployed fleet's cost, and its sensitivity to density and choices.
 * BENCH_FLEET_RUNS sets the runs (default 3); BENCH_FLEET_GUARDIAN (JSON) overrides Guardian settings,
 * e.g. `{"SCALE_UP_FIT":false,"SCALE_UP_GROWTH":0,"SCALE_DOWN_MIN":0}` for the original amounts.
 */
export async function run(emit: Emit): Promise<void> {
  const guardian = JSON.parse(process.env.BENCH_FLEET_GUARDIAN || '{}') as Record<string, unknown>;
  if (Object.keys(guardian).length > 0)
    process.stderr.write(`  fleet: guardian settings ${JSON.stringify(guardian)}\n`);
  const ac = new AbortController();
  const interrupt = () => ac.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    await emitFleetCost(emit, 'fleet-cost', {
      runs: Number(process.env.BENCH_FLEET_RUNS ?? 3),
      guardian,
      signal: ac.signal,
    });
  } catch (err) {
    if (!ac.signal.aborted) throw err;
    process.stderr.write('fleet-cost: interrupted; emulators stopped, no figure printed\n');
    process.exitCode = 130;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}
