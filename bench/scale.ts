/**
 * `npm run bench -- scale`: the sharded control tick at fleet scale, in virtual time.
 * BENCH_SCALE_CONTAINERS containers (default 100,000) on hosts of 20, on dynalite (its own
 * process), driven by bench/shard-sim.ts: the deployed chain code per shard (runChainedTick with
 * the Guardian's store, the Scaler's planner as the sink committing per host, the held activity
 * lines), the shard watchdog every 20 s of virtual time, 10 % of clock messages delivered twice.
 * Each shard's tick is run and timed alone (as on its own Lambda). Usage is synthetic and mixed
 * (usageOf: 15 % of containers swing between load and idle, the rest in band), served in-process: the metrics store is not what is measured here (guardian.ts is).
 * N comes from SHARD_CONTAINERS (BENCH_SCALE_PER_SHARD, default: the config's, 4,000); after 4 windows the
 * target is lowered so the watchdog grows N → N + 1 mid-run (a recorded generation). Figures:
 * scale.containers, .shards, .shards_after, .shard_tick_p95_ms / .shard_tick_max_ms (every
 * clock message of every shard, first full reads included) and their steady-tick versions,
 * .missed_or_double (every guarded container decided exactly once per window, from the decisions
 * log), .reshard_missed_or_double (the windows from the switch on), .fixed_reads_per_window
 * (config + rules reads per window ÷ shards), .cost_per_1000_usd_month at this size and at 1,000.
 * BENCH_SCALE_WINDOWS (default 15) windows of 5 s.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { CreateTableCommand, type DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { createDynamoDocumentClient } from '../adapters/aws.ts';
import { ActivityBuffer } from '../adapters/dynamodb/activity.ts';
import { GuardianStore } from '../adapters/dynamodb/guardian-store.ts';
import { locatorItem, ScalerStore } from '../adapters/dynamodb/scaler-store.ts';
import { ServiceConfigReader } from '../adapters/dynamodb/service-config-reader.ts';
import { tableDefinition } from '../adapters/dynamodb/table.ts';
import { TableClient } from '../adapters/dynamodb/table-client.ts';
import { silentLogger } from '../adapters/logger.ts';
import type { HostState } from '../core/contracts/host.ts';
import { hostStateToItem } from '../core/contracts/items.ts';
import { defaultConfig, type GuardianConfig } from '../core/contracts/service-config.ts';
import { keys } from '../core/contracts/table-layout.ts';
import { StaleStateError } from '../core/errors.ts';
import { mapLimit } from '../core/map-limit.ts';
import { DEFAULT_RULES } from '../core/policy/default-rules.ts';
import { admitContainer } from '../core/policy/planner/admission.ts';
import { desiredShards } from '../core/policy/shards.ts';
import type { MetricsSource } from '../core/ports/metrics-source.ts';
import type { OrderSender } from '../functions/scaler/ports.ts';
import { ScalerSink } from '../functions/scaler/scaler-sink.ts';
import { startDynaliteProcess } from '../local/emulators.ts';
import { aContainer, unadmitted } from '../test/support/containers.ts';
import { ManualClock } from '../test/support/ops-fixtures.ts';
import { aHost, spec } from '../test/support/planner-fixtures.ts';
import { lean } from './cost/assumptions.ts';
import { estimateMonthlyCost, type LoopCounts, SECONDS_PER_MONTH } from './cost/model.ts';
import { type Emit, median, percentile } from './figure.ts';
import { missedOrDouble, runShardSim, type ShardSimResult, seeded } from './shard-sim.ts';

type ShardSimTick = ShardSimResult['ticks'][number];

const note = (s: string) => process.stderr.write(`  ${s}\n`);
const PER_HOST = 20;
const WINDOW_S = 5;
const W = WINDOW_S * 1000;
const T0 = 1_800_000_000_000; // a multiple of a minute
/** A shard's Lambda: one full vCPU (docs/shards.md). */
const SHARD_MEMORY_MIB = 1769;

function intEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${raw}`);
  return n;
}

/** CPU time (user + system) a process has used, ms, from /proc (10 ms steps); 0 where unreadable. */
function processCpuMs(pid: number): number {
  try {
    // the fields after the command's closing parenthesis: utime and stime are the 12th and 13th
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/** An item's size as DynamoDB counts it, near enough: names, strings and binaries by bytes, numbers 21. */
function itemBytes(item: Record<string, unknown>): number {
  let n = 0;
  for (const [k, v] of Object.entries(item)) {
    n += Buffer.byteLength(k);
    if (typeof v === 'string') n += Buffer.byteLength(v);
    else if (v instanceof Uint8Array) n += v.byteLength;
    else if (typeof v === 'number') n += 21;
    else n += Buffer.byteLength(JSON.stringify(v) ?? '');
  }
  return n;
}

const containerName = (i: number) => `ct-${String(i).padStart(6, '0')}`;

/**
 * The mixed workload: usage of container i in window w (cpu shares, MiB). 15 % swing between a
 * load over their allocation and an idle level, 6 windows each, phases spread over the fleet (every
 * window some start a load or go idle: up and down requests all along); the rest hold in band.
 */
function usageOf(i: number, w: number): { cpu: number; mem: number } {
  if (i % 20 < 3) return { cpu: (w + i) % 12 < 6 ? 380 : 80, mem: 1500 };
  return { cpu: 230 + (i % 25), mem: 1500 };
}

function syntheticMetrics(index: ReadonlyMap<string, number>): MetricsSource {
  return {
    async usage(q) {
      const w = Math.round(q.window.endS / WINDOW_S);
      const usage = new Map(
        q.structures.map((s) => {
          const u = usageOf(index.get(s) ?? 0, w);
          return [s, { cpu: u.cpu, mem: u.mem }] as const;
        }),
      );
      return { usage, queries: Math.ceil(q.structures.length / 500), rejected: [] };
    },
  };
}

interface ScaleRun {
  containers: number;
  hosts: number;
  shards: number;
  shardsAfter: number;
  switchAt: number | null;
  tickMs: number[];
  steadyTickMs: number[];
  /** The warm-up window's longest shard tick (every GUARD item created), ms. */
  warmupMaxMs: number;
  /** CPU time of the tick's own process per shard tick (the emulator's excluded), ms. */
  cpuMs: number[];
  /** The process's garbage collection while each shard tick ran (all environments share its heap), ms. */
  gcMs: number[];
  /** The emulator's CPU time (its own process) while each shard tick ran, ms. */
  emulatorMs: number[];
  phases: { state: number; metrics: number; decide: number; write: number };
  meanTickS: number;
  missedOrDouble: number;
  reshardMissedOrDouble: number;
  fixedReadsPerShardWindow: number;
  requestsPerWindow: number;
  orders: number;
  readUnits: number;
  writeUnits: number;
  windows: number;
  examples: string[];
  /** Share of measured shard ticks that ran where their chain's previous tick did. */
  resumedShare: number;
  /** Structures given carried events per tick that did not resume (median). */
  carriedMedian: number;
  /** Deflated bytes of the carries written (p95, max) and the share of ticks that wrote one. */
  carryBytes: { p95: number; max: number; writtenShare: number };
  seedS: number;
  runS: number;
}

async function seed(table: TableClient, containers: number, perShard: number): Promise<Map<string, number>> {
  const config: Partial<GuardianConfig> = {
    WINDOW_TIMELAPSE: WINDOW_S,
    SHARDS_MAX: 64,
    SHARD_CONTAINERS: perShard,
  };
  await table.put({ ...keys.service('guardian'), name: 'guardian', config, heartbeat: null, version: 1 });
  for (const r of DEFAULT_RULES) await table.put({ ...keys.rule(r.name), ...r });
  const store = new ScalerStore(table);
  const index = new Map<string, number>();
  const hosts = Math.ceil(containers / PER_HOST);
  await mapLimit(
    Array.from({ length: hosts }, (_, h) => h),
    16,
    async (h) => {
      // 4 sockets × 8 cores × 2 threads = 6,400 shares: 20 × 300 allocated, room for some scale-ups
      let host: HostState = aHost({
        name: `host-${h}`,
        queueUrl: `https://sqs.local/host-${h}`,
        sockets: 4,
        coresPerSocket: 8,
        memMiB: 131_072,
        placement: 'quota',
      });
      const locators = [];
      for (let j = 0; j < PER_HOST && h * PER_HOST + j < containers; j++) {
        const i = h * PER_HOST + j;
        index.set(containerName(i), i);
        const c = aContainer(containerName(i), host.name, {
          resources: { cpu: spec(300, 50, 400), mem: spec(2048, 256, 4096) },
          ...unadmitted(),
        });
        const out = admitContainer(host, c, T0 - 3_600_000);
        if (!out.ok) throw new Error(`${c.name}: ${out.reason}`);
        host = out.host;
        locators.push(locatorItem(c.name, host.name));
      }
      await store.createHost(host);
      // Each container's agent report (APPLIED#), as a running fleet's host partitions hold them.
      const reports = Object.values(host.containers).map((c) => ({
        ...keys.applied(host.name, c.name),
        host: host.name,
        container: c.name,
        appliedVersion: 1,
        appliedAt: T0 - 3_600_000,
        outcome: 'applied',
        limits: {
          cpuShares: c.resources.cpu?.current ?? null,
          cpuset: null,
          memMiB: c.resources.mem?.current ?? null,
          diskReadMiBps: null,
          diskWriteMiBps: null,
          netMbps: null,
        },
        issues: [],
        via: 'order',
      }));
      await table.batchPut([...locators, ...reports], 2);
    },
  );
  return index;
}

async function scaleRun(containers: number, perShard: number, windows: number): Promise<ScaleRun> {
  // The emulator takes any key; nothing here talks to AWS.
  process.env.AWS_ACCESS_KEY_ID ||= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ||= 'local';
  const ddb = await startDynaliteProcess();
  try {
    const doc = createDynamoDocumentClient({ endpoint: ddb.endpoint, region: 'us-east-1' });
    await doc.send(new CreateTableCommand(tableDefinition('sc-scale')));
    // An emulator just started may answer before the table is usable.
    await waitUntilTableExists(
      { client: doc as unknown as DynamoDBClient, maxWaitTime: 60 },
      { TableName: 'sc-scale' },
    );
    // Read units by request kind, from each response's consumed capacity.
    const unitsBy = new Map<string, number>();
    doc.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        const input = args.input as { IndexName?: string; Key?: unknown };
        const sk = (input.Key as { sk?: unknown } | undefined)?.sk;
        const item = typeof sk === 'string' ? ` ${sk.split(/[#/]/)[0]}` : '';
        const kind = `${context.commandName}${input.IndexName === undefined ? '' : ` ${input.IndexName}`}${item}`;
        const used = (out.output as { ConsumedCapacity?: unknown }).ConsumedCapacity;
        for (const c of (Array.isArray(used) ? used : [used]) as ({ CapacityUnits?: number } | undefined)[])
          unitsBy.set(kind, (unitsBy.get(kind) ?? 0) + (c?.CapacityUnits ?? 0));
        return out;
      },
      { step: 'initialize', name: 'benchUnitsByKind' },
    );
    const table = new TableClient(doc, 'sc-scale');
    const seedStarted = performance.now();
    const index = await seed(table, containers, perShard);
    const seedS = (performance.now() - seedStarted) / 1000;
    note(
      `seeded ${containers} containers on ${Math.ceil(containers / PER_HOST)} hosts in ${seedS.toFixed(0)} s`,
    );

    // Fixed reads counted per window (config + rules), through the same store the ticks use.
    const fixedReads = { n: 0 };
    const state = new (class extends GuardianStore {
      override loadConfig(fallback: GuardianConfig) {
        fixedReads.n += 1;
        return super.loadConfig(fallback);
      }
      override loadRules(config: GuardianConfig) {
        fixedReads.n += 1;
        return super.loadRules(config);
      }
      override async listHosts() {
        const t = performance.now();
        const out = await super.listHosts();
        if (process.env.BENCH_SCALE_TRACE === '1')
          note(`listHosts ${out.length} in ${Math.round(performance.now() - t)} ms`);
        return out;
      }
    })(table);
    const shards = desiredShards(containers, 1, { SHARD_CONTAINERS: perShard, SHARDS_MAX: 64 });
    // The shard count a fleet of this size settles on, recorded up front (the first generation).
    // From a warm-up window before T0: its ticks create every GUARD item (the API creates them with
    // the containers in a live fleet) and are reported apart (scale.warmup_tick_max_ms).
    await state.writeShards({ current: { gen: 1, shards, from: T0 - W }, previous: null, version: 1 }, 0);
    const sent = { orders: 0 };
    const orders: OrderSender = {
      async send(_queueUrl, list) {
        sent.orders += list.length;
        return { sent: list.length, failed: 0 };
      },
    };
    const scalerConfig = new ServiceConfigReader(table, 'scaler', {
      logger: silentLogger,
      consistent: false,
    });
    // Host commits refused on their version (a stale host state planned from, or a race), and the
    // write units such a refusal consumes on DynamoDB (as its item's size; the emulator reports none).
    const refused = { commits: 0, writeUnits: 0 };
    class CountingScalerStore extends ScalerStore {
      override async commitHost(next: HostState, expectedVersion: number) {
        try {
          await super.commitHost(next, expectedVersion);
        } catch (err) {
          if (err instanceof StaleStateError) {
            refused.commits += 1;
            refused.writeUnits += Math.ceil(itemBytes(hostStateToItem(next)) / 1024);
          }
          throw err;
        }
      }
    }
    // Each execution environment holds its own activity lines (the Guardian's and the planner's).
    const ownOf = () => {
      const activity = new ActivityBuffer(table, 60_000);
      const sink = new ScalerSink({
        state: new CountingScalerStore(table),
        activity,
        orders,
        loadConfig: () => scalerConfig.read(),
        log: silentLogger,
      });
      return { activity, sink };
    };
    const first = ownOf();
    const grow = Math.ceil(containers / (shards + 1));
    const endAt = T0 + windows * WINDOW_S * 1000;
    table.resetCounters();
    const runStarted = performance.now();
    const sim = await runShardSim({
      clock: new ManualClock(T0 - W - 2_000),
      tickDeps: {
        state,
        metrics: syntheticMetrics(index),
        ...first,
        logger: silentLogger,
        readConcurrency: 32,
        writeConcurrency: 32,
      },
      logger: silentLogger,
      endAt,
      processes: shards + 2,
      duplicateRate: 0.1,
      watchdogs: 1,
      watchdogEveryMs: 20_000,
      random: seeded(42),
      serial: true,
      perProcess: ownOf,
      emulatorCpuMs: () => processCpuMs(ddb.pid),
      carry: process.env.BENCH_SCALE_CARRY !== '0',
      onInstant: (at, ticks) =>
        note(`+${(at - T0) / 1000} s: ${ticks} shard ticks so far (load ${loadavg()[0]?.toFixed(1)})`),
      events: [
        {
          // the units are counted from the third window: the first ones create every GUARD item
          at: T0 + 2 * WINDOW_S * 1000,
          run: async () => {
            table.resetCounters();
            unitsBy.clear();
            Object.assign(refused, { commits: 0, writeUnits: 0 });
          },
        },
        {
          // after 4 windows: a lower target per shard, so the watchdog grows N by one
          at: T0 + 4 * WINDOW_S * 1000 + 500,
          run: async () => {
            const config = {
              WINDOW_TIMELAPSE: WINDOW_S,
              SHARDS_MAX: 64,
              SHARD_CONTAINERS: Math.max(100, grow),
            };
            await table.put({
              ...keys.service('guardian'),
              name: 'guardian',
              config,
              heartbeat: null,
              version: 2,
            });
          },
        },
      ],
    });
    const runS = (performance.now() - runStarted) / 1000;
    note(
      `units by request: ${[...unitsBy].map(([k, u]) => `${k} ${Math.round(u)}`).join('; ')} (total read ${Math.round(table.counters.readUnits)}, write ${Math.round(table.counters.writeUnits)}); host commits refused ${refused.commits} (${refused.writeUnits} write units, counted)`,
    );
    // the slowest measured ticks (the warm-up window's create every GUARD item)
    for (const t of sim.ticks
      .filter((t) => t.at >= T0)
      .sort((a, b) => b.wallMs - a.wallMs)
      .slice(0, 5))
      note(
        `slow tick +${(t.at - T0) / 1000} s shard ${t.gen}/${t.shard}${t.resumed ? ' (resumed)' : ''}: ${Math.round(t.wallMs)} ms (cpu ${Math.round(t.cpuMs)}, gc ${Math.round(t.gcMs)}, emulator cpu ${t.emulatorMs}), ${JSON.stringify(t.phasesMs)}, ${t.requests} requests`,
      );
    if (process.env.BENCH_SCALE_TRACE === '1')
      for (const t of sim.ticks)
        note(
          `tick +${(t.at - T0) / 1000} s ${t.gen}/${t.shard}: wall ${Math.round(t.wallMs)} tick ${t.ms} cpu ${Math.round(t.cpuMs)} ${JSON.stringify(t.phasesMs)} requests ${t.requests}`,
        );
    const record = await state.readShards();
    const all = new Set(index.keys());
    const last = endAt;
    const check = missedOrDouble(sim.decisions, () => all, T0 - W, last, W);
    const warmup = sim.ticks.filter((t) => t.at < T0);
    const measured = sim.ticks.filter((t) => t.at >= T0);
    const switchAt = record.current.gen > 1 ? record.current.from : null;
    const after = switchAt === null ? null : missedOrDouble(sim.decisions, () => all, switchAt, last, W);
    // A steady tick: not the first of its shard chain in a generation (that one reads whole partitions).
    const firsts = new Set<string>();
    const steady: number[] = [];
    for (const t of [...measured].sort((a, b) => a.at - b.at)) {
      const key = `${t.gen}/${t.shard}`;
      if (firsts.has(key)) steady.push(t.wallMs);
      else firsts.add(key);
    }
    const tickMs = measured.map((t) => t.wallMs);
    const phase = (k: keyof ShardSimTick['phasesMs']) =>
      Math.round(median(measured.map((t) => t.phasesMs[k])));
    const windowsRun = sim.decisions.size - 1; // the warm-up window apart
    return {
      containers,
      hosts: Math.ceil(containers / PER_HOST),
      shards,
      shardsAfter: record.current.shards,
      switchAt,
      tickMs,
      steadyTickMs: steady,
      cpuMs: measured.map((t) => t.cpuMs),
      gcMs: measured.map((t) => t.gcMs),
      emulatorMs: measured.map((t) => t.emulatorMs ?? 0),
      warmupMaxMs: Math.max(...warmup.map((t) => t.wallMs)),
      phases: {
        state: phase('state'),
        metrics: phase('metrics'),
        decide: phase('decide'),
        write: phase('write'),
      },
      meanTickS: tickMs.reduce((a, b) => a + b, 0) / tickMs.length / 1000,
      missedOrDouble: check.missed + check.double + check.unexpected,
      reshardMissedOrDouble: after === null ? -1 : after.missed + after.double + after.unexpected,
      fixedReadsPerShardWindow: fixedReads.n / sim.ticks.length,
      requestsPerWindow: measured.reduce((n, t) => n + t.requests, 0) / windowsRun,
      orders: sent.orders,
      readUnits: table.counters.readUnits,
      writeUnits: table.counters.writeUnits + refused.writeUnits,
      windows: windowsRun,
      examples: check.examples,
      resumedShare: measured.filter((t) => t.resumed).length / measured.length,
      carriedMedian: median(measured.filter((t) => !t.resumed).map((t) => t.carried)),
      carryBytes: carryFigures(measured),
      seedS,
      runS,
    };
  } finally {
    await ddb.stop();
  }
}

function carryFigures(ticks: readonly ShardSimTick[]): ScaleRun['carryBytes'] {
  const written = ticks.flatMap((t) => (t.carryBytes === null ? [] : [t.carryBytes]));
  return {
    p95: written.length === 0 ? 0 : Math.round(percentile(written, 95)),
    max: written.length === 0 ? 0 : Math.max(...written),
    writtenShare: written.length / ticks.length,
  };
}

/** What the sharded control loop costs a month at this run's measured units and tick times. */
function costPer1000(r: ScaleRun): number {
  const base = lean(PER_HOST);
  const ticksPerMonth = SECONDS_PER_MONTH / WINDOW_S;
  const containerTicks = r.containers * (r.windows - 2); // units counted from the third window
  // every clock message of every shard: a send, the event source mapping's receive, a delete
  const shardTicksPerMonth = (r.tickMs.length / r.windows) * ticksPerMonth;
  const counts: LoopCounts = {
    ...base,
    perContainerTick: {
      readUnits: r.readUnits / containerTicks,
      writeUnits: r.writeUnits / containerTicks,
      sqsRequests: (3 * r.orders) / containerTicks,
      logBytes: 0,
    },
    perTick: { readUnits: 0, writeUnits: 0, logBytes: 100 * (r.tickMs.length / r.windows) },
    functions: [
      {
        name: 'control-tick (per shard)',
        memoryMiB: SHARD_MEMORY_MIB,
        arch: 'arm64',
        invocationsPerMonth: shardTicksPerMonth,
        billedSecondsPerInvocation: r.meanTickS,
        scheduledPerMonth: SECONDS_PER_MONTH / 60,
      },
      ...base.functions.filter((f) => f.name !== 'control-tick'),
    ],
    clockQueueRequestsPerMonth: 3 * shardTicksPerMonth,
  };
  const estimate = estimateMonthlyCost(counts, {
    containers: r.containers,
    containersPerHost: PER_HOST,
    tickSeconds: WINDOW_S,
  });
  note(
    `cost lines at ${r.containers}: ${estimate.lines.map((l) => `${l.service} ${l.item} $${l.usdPerMonth.toFixed(2)}`).join('; ')}`,
  );
  return estimate.usdPer1000ContainersPerMonth;
}

export async function run(emit: Emit): Promise<void> {
  const containers = intEnv('BENCH_SCALE_CONTAINERS', 100_000, 200);
  const perShard = intEnv('BENCH_SCALE_PER_SHARD', defaultConfig('guardian').SHARD_CONTAINERS, 100);
  const windows = intEnv('BENCH_SCALE_WINDOWS', 15, 10);
  const load = () => Number(loadavg()[0]?.toFixed(1));
  const loadBefore = load();
  note(`scale: ${containers} containers, ${perShard} a shard, ${windows} windows (load ${loadBefore})`);
  const big = await scaleRun(containers, perShard, windows);
  const loadAfter = load();
  note(
    `ran ${big.windows} windows, ${big.tickMs.length} shard ticks in ${big.runS.toFixed(0)} s; N ${big.shards} → ${big.shardsAfter} at ${big.switchAt === null ? 'never' : `+${(big.switchAt - T0) / 1000} s`}`,
  );
  if (big.examples.length > 0) note(`missed or double: ${big.examples.join('; ')}`);
  const extra = { loadAvg: loadAfter, loadBefore, containers: big.containers, windows: big.windows };
  emit({ name: 'scale.containers', value: big.containers, unit: 'containers', hosts: big.hosts, ...extra });
  emit({ name: 'scale.shards', value: big.shards, unit: 'shards', perShard, ...extra });
  emit({
    name: 'scale.shards_after',
    value: big.shardsAfter,
    unit: 'shards',
    switchAtS: big.switchAt === null ? null : (big.switchAt - T0) / 1000,
    ...extra,
  });
  emit({
    name: 'scale.shard_tick_p95_ms',
    value: Math.round(percentile(big.tickMs, 95)),
    unit: 'ms',
    goal: 2000,
    ticks: big.tickMs.length,
    ...extra,
  });
  emit({
    name: 'scale.shard_tick_max_ms',
    value: Math.round(Math.max(...big.tickMs)),
    unit: 'ms',
    goal: 2000,
    ...extra,
  });
  emit({
    name: 'scale.warmup_tick_max_ms',
    value: Math.round(big.warmupMaxMs),
    unit: 'ms',
    note: "the window before the measured ones: each shard's first tick creates its containers' GUARD items and plans the fleet's first requests",
    ...extra,
  });
  emit({
    name: 'scale.shard_tick_cpu_p95_ms',
    value: Math.round(percentile(big.cpuMs, 95)),
    unit: 'ms',
    max: Math.round(Math.max(...big.cpuMs)),
    phasesMedianMs: JSON.stringify(big.phases),
    note: "CPU time of the tick's process per shard tick (what its Lambda computes; the emulator's CPU excluded)",
    ...extra,
  });
  emit({
    name: 'scale.shard_tick_gc_p95_ms',
    value: Math.round(percentile(big.gcMs, 95)),
    unit: 'ms',
    max: Math.round(Math.max(...big.gcMs)),
    note: "garbage collection during a shard tick; every simulated environment shares this process's heap (a Lambda environment has its own)",
    ...extra,
  });
  emit({
    name: 'scale.shard_tick_emulator_cpu_p95_ms',
    value: Math.round(percentile(big.emulatorMs, 95)),
    unit: 'ms',
    max: Math.round(Math.max(...big.emulatorMs)),
    note: "dynalite's CPU time while a shard tick ran (its own process, /proc in 10 ms steps): work DynamoDB does, not the tick's Lambda",
    ...extra,
  });
  emit({
    name: 'scale.shard_tick_steady_p95_ms',
    value: Math.round(percentile(big.steadyTickMs, 95)),
    unit: 'ms',
    ...extra,
  });
  emit({
    name: 'scale.shard_tick_steady_max_ms',
    value: Math.round(Math.max(...big.steadyTickMs)),
    unit: 'ms',
    ...extra,
  });
  emit({
    name: 'scale.missed_or_double',
    value: big.missedOrDouble,
    unit: 'container-windows',
    goal: 0,
    ...extra,
  });
  emit({
    name: 'scale.reshard_missed_or_double',
    value: big.reshardMissedOrDouble,
    unit: 'container-windows',
    goal: 0,
    note: '-1: no switch happened',
    ...extra,
  });
  emit({
    name: 'scale.resumed_share',
    value: Number(big.resumedShare.toFixed(3)),
    unit: 'share of shard ticks',
    note: "ticks that ran where their chain's previous tick did (SQS hands a message to any warm environment)",
    ...extra,
  });
  emit({
    name: 'scale.carried_per_tick',
    value: big.carriedMedian,
    unit: 'structures',
    note: 'median per tick that did not resume: structures whose live events came from the carry (lost without it)',
    ...extra,
  });
  emit({
    name: 'scale.carry_bytes_p95',
    value: big.carryBytes.p95,
    unit: 'bytes',
    max: big.carryBytes.max,
    writtenShare: Number(big.carryBytes.writtenShare.toFixed(3)),
    note: 'deflated carry item per shard tick that wrote one (its write units: 1 per started KB)',
    ...extra,
  });
  emit({
    name: 'scale.fixed_reads_per_shard_tick',
    value: Number(big.fixedReadsPerShardWindow.toFixed(2)),
    unit: 'reads',
    note: 'config + rules; 2 = each once',
    ...extra,
  });
  emit({
    name: 'scale.requests_per_window',
    value: Math.round(big.requestsPerWindow),
    unit: 'requests',
    orders: big.orders,
    ...extra,
  });
  // The same run at 1,000 containers, for the cost comparison (after the figures above are out).
  const small = containers === 1000 ? big : await scaleRun(1000, perShard, windows);
  emit({
    name: 'scale.cost_per_1000_usd_month',
    value: Number(costPer1000(big).toFixed(2)),
    unit: 'USD/month',
    at1000: Number(costPer1000(small).toFixed(2)),
    note: 'measured DynamoDB units, orders and shard tick times (1,769 MiB per shard Lambda, 5 s windows), lean() for the agents and sweeps; at1000: the same run at 1,000 containers',
    ...extra,
  });
}
