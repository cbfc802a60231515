/**
 * Guardian figures:
 * - guardian.decisions_per_s: pure policy (decide) on one core, 1k / 10k / 100k containers
 *   (cpu + mem guarded, default rules; 90 % stable, 5 % over upper, 5 % under lower);
 *   one decision = one container evaluated on all its guarded resources.
 * - guardian.tick_10k_ms, .tsdb_queries_per_tick, .ddb_reads_per_tick, .ddb_writes_per_tick:
 *   one full tick at 10,000 containers on 500 hosts against dynalite + VictoriaMetrics started
 *   here, fed BDWatchdog-format points; the same usage mix. Two invocations of 6 ticks: tick_10k_ms
 *   is a steady tick (not the first of its invocation), tick_10k_first_ms the first tick of the second
 *   invocation (full read); reads/writes are per steady tick; checkpoint_10k_ms the invocation's end.
 * - guardian.cost_per_1000_usd_month: bench/cost/model.ts fed the Guardian's measured read and write
 *   units (one invocation a minute at 10 s cadence) and lean()'s assumptions for the rest.
 * Medians over several runs. decisions_per_s divides by this process's CPU time (the machine is shared;
 * wall-clock rate and load average are printed beside it).
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoDocumentClient } from '../adapters/aws.ts';
import { tableDefinition } from '../adapters/dynamodb/table.ts';
import { TableClient } from '../adapters/dynamodb/table-client.ts';
import { silentLogger } from '../adapters/logger.ts';
import { PrometheusMetricsSource } from '../adapters/metrics/prometheus.ts';
import type { GuardState } from '../core/contracts/guard-state.ts';
import type { HostState } from '../core/contracts/host.ts';
import { defaultConfig } from '../core/contracts/service-config.ts';
import type { Container } from '../core/contracts/structure.ts';
import { keys } from '../core/contracts/table-layout.ts';
import { DEFAULT_RULES } from '../core/policy/default-rules.ts';
import { compileRules, decide, type StructureView } from '../core/policy/guardian/decide.ts';
import { RecordingRequestSink } from '../functions/guardian/recording-request-sink.ts';
import { checkpoint, runTick, type TickMemory, type TickReport } from '../functions/guardian/tick.ts';
import { startDynaliteProcess, startVictoriaMetrics } from '../local/emulators.ts';
import { ASSUMED_FLEET, lean } from './cost/assumptions.ts';
import { estimateMonthlyCost, type LoopCounts, PRICES, SECONDS_PER_MONTH } from './cost/model.ts';
import { type Emit, median } from './figure.ts';

const note = (s: string) => process.stderr.write(`  ${s}\n`);

/** cpu usage for container i: 90 % in the stable band, 5 % above upper, 5 % below lower (max 400 → band 220–260). */
function cpuUsage(i: number): number {
  const k = i % 20;
  if (k === 0) return 300; // > upper 260
  if (k === 1) return 100; // < lower 220
  return 230 + (i % 25);
}

function view(i: number): StructureView {
  return {
    name: `c${i}`,
    type: 'container',
    resources: {
      cpu: { max: 400, min: 50, current: 300, guard: true },
      mem: { max: 4096, min: 256, current: 2048, guard: true },
    },
  };
}

async function decisionsPerSecond(emit: Emit): Promise<void> {
  const rules = compileRules(DEFAULT_RULES);
  const config = defaultConfig('guardian');
  for (const n of [1_000, 10_000, 100_000]) {
    const views = Array.from({ length: n }, (_, i) => view(i));
    const usages = Array.from({ length: n }, (_, i) => ({ cpu: cpuUsage(i), mem: 1500 }));
    let states: (GuardState | null)[] = new Array(n).fill(null);
    const rates: number[] = [];
    const wallRates: number[] = [];
    // every measured run makes at least 100k decisions (passes over the fleet, one tick apart)
    const passes = Math.ceil(100_000 / n);
    let tick = 0;
    for (let run = 0; run < 7; run++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      for (let p = 0; p < passes; p++) {
        const now = 1_000_000 + tick++ * 5000;
        const next: (GuardState | null)[] = new Array(n);
        for (let i = 0; i < n; i++) {
          next[i] = decide({
            structure: views[i] as StructureView,
            previous: states[i] ?? null,
            usage: usages[i] ?? {},
            rules,
            config,
            now,
          }).state;
        }
        states = next;
      }
      const cpu = process.cpuUsage(c0);
      const wallS = (performance.now() - t0) / 1000;
      if (run > 0) {
        // run 0 warms up (and creates every state)
        rates.push((n * passes) / ((cpu.user + cpu.system) / 1e6));
        wallRates.push((n * passes) / wallS);
      }
    }
    const value = Math.round(median(rates));
    const wall = Math.round(median(wallRates));
    const load = Number(loadavg()[0]?.toFixed(1));
    note(`decide: ${n} containers → ${value} decisions per CPU-second, ${wall}/s wall (load ${load})`);
    const fig = {
      name: 'guardian.decisions_per_s',
      value,
      unit: 'decisions/s',
      containers: n,
      wallPerS: wall,
      loadAvg: load,
      clock: 'process CPU time',
    };
    emit(fig);
    if (n === 10_000) emit({ ...fig, headline: true });
  }
}

/** CPU time (user + system) a process has used, ms, from /proc (Linux). */
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15 of stat)
  return Math.round((ticks * 1000) / 100); // USER_HZ = 100
}

async function fullTick(emit: Emit): Promise<void> {
  const HOSTS = Number(process.env.BENCH_GUARDIAN_HOSTS ?? 500); // smaller only for profiling
  const PER_HOST = 20;
  // The emulators accept any credentials; the SDK insists on having some.
  process.env.AWS_ACCESS_KEY_ID ||= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ||= 'local';
  // dynalite in its own process, as DynamoDB is a remote service: the tick's event loop is not the table's.
  const [ddb, vm] = await Promise.all([startDynaliteProcess(), startVictoriaMetrics()]);
  try {
    const doc = createDynamoDocumentClient({ endpoint: ddb.endpoint, region: 'us-east-1' });
    await doc.send(new CreateTableCommand(tableDefinition('sc-bench')));
    const table = new TableClient(doc, 'sc-bench');
    await table.put({
      ...keys.service('guardian'),
      name: 'guardian',
      config: { GUARDABLE_RESOURCES: ['cpu', 'mem'] },
      heartbeat: null,
      version: 1,
    });
    for (const r of DEFAULT_RULES) await table.put({ ...keys.rule(r.name), ...r });
    const hostItems: HostState[] = [];
    for (let h = 0; h < HOSTS; h++) {
      const containers: Record<string, Container> = {};
      for (let j = 0; j < PER_HOST; j++) {
        const i = h * PER_HOST + j;
        containers[`c${i}`] = {
          name: `c${i}`,
          host: `h${h}`,
          application: null,
          guard: true,
          resources: {
            cpu: { max: 400, min: 50, current: 300, guard: true, weight: 1 },
            mem: { max: 4096, min: 256, current: 2048, guard: true, weight: 1 },
          },
          cores: [],
          disk: null,
          desiredVersion: 1,
          desiredAt: 0,
        };
      }
      hostItems.push({
        name: `h${h}`,
        version: 1,
        cpuPlacement: 'quota',
        capacity: {
          cpu: { max: 6400, free: 400, topology: [{ id: '0', socket: 0, core: 0 }], cores: {} },
          mem: { max: 131072, free: 40960 },
          disks: {},
          net: null,
        },
        containers,
        degraded: false,
        queueUrl: null,
      });
    }
    const { mapLimit } = await import('../core/map-limit.ts');
    await mapLimit(hostItems, 16, (hs) => table.put({ ...keys.hostState(hs.name), ...hs }));

    // BDWatchdog points (quoted numbers, host/pid/command tags), every 5 s over the ticks' windows.
    const base = Math.floor(Date.now() / 1000 / 5) * 5 - 100; // 12 ticks' windows, all in the past
    const t0 = performance.now();
    let batch: unknown[] = [];
    const flush = async () => {
      const res = await fetch(`${vm.opentsdbUrl}/api/put`, { method: 'POST', body: JSON.stringify(batch) });
      await res.text();
      batch = [];
    };
    for (let t = base - 10; t <= base + 60; t += 5) {
      for (let i = 0; i < HOSTS * PER_HOST; i++) {
        const tags = { host: `c${i}`, pid: '1', command: 'java' };
        const cpu = cpuUsage(i);
        batch.push({ metric: 'proc.cpu.user', timestamp: String(t), value: (cpu * 0.8).toFixed(2), tags });
        batch.push({ metric: 'proc.cpu.kernel', timestamp: String(t), value: (cpu * 0.2).toFixed(2), tags });
        batch.push({ metric: 'proc.mem.resident', timestamp: String(t), value: '1500.00', tags });
        if (batch.length >= 30_000) await flush();
      }
    }
    await flush();
    await vm.flush();
    note(`fed ${HOSTS * PER_HOST * 3 * 15} points in ${Math.round(performance.now() - t0)} ms`);

    const metrics = new PrometheusMetricsSource({ url: vm.promUrl, batchSize: 500, concurrency: 4 });
    const deps = {
      table,
      metrics,
      sink: new RecordingRequestSink(silentLogger),
      logger: silentLogger,
      readConcurrency: 32,
      writeConcurrency: 32,
    };
    // Two invocations of 1 + STEADY ticks each, as the control-tick handler runs them (5 s windows):
    // the first tick of an invocation reads whole partitions, the others only host STATE items;
    // the invocation ends with a checkpoint of what is only in memory.
    const STEADY = 5;
    type Sample = {
      ms: number;
      reads: number;
      writes: number;
      rru: number;
      wru: number;
      cpuMs: number;
      ddbCpuMs: number;
    };
    const measure = async <T>(f: () => Promise<T>): Promise<{ out: T; s: Sample }> => {
      const c0 = process.cpuUsage();
      const d0 = processCpuMs(ddb.pid);
      const k0 = { ...table.counters };
      const t = performance.now();
      const out = await f();
      const c = process.cpuUsage(c0);
      return {
        out,
        s: {
          ms: Math.round(performance.now() - t),
          reads: table.counters.reads - k0.reads,
          writes: table.counters.writes - k0.writes,
          rru: table.counters.readUnits - k0.readUnits,
          wru: table.counters.writeUnits - k0.writeUnits,
          cpuMs: Math.round((c.user + c.system) / 1000),
          ddbCpuMs: processCpuMs(ddb.pid) - d0,
        },
      };
    };
    const firsts: Sample[] = [];
    const steadies: Sample[] = [];
    const checkpoints: Sample[] = [];
    const steadyReports: TickReport[] = [];
    let tick = 0;
    for (let inv = 0; inv < 2; inv++) {
      const memory: TickMemory = { config: defaultConfig('guardian') };
      for (let k = 0; k <= STEADY; k++) {
        const { out: rep, s } = await measure(() => runTick(deps, (base + 5 * tick++) * 1000, memory));
        note(
          `invocation ${inv + 1} tick ${k}${rep.fullRead ? ' (full read)' : ''}: ${rep.ms} ms (${JSON.stringify(rep.phasesMs)}), ${rep.structures} structures, ${rep.events} events, ${rep.requests.length} requests, guard writes ${rep.guardWrites}, activity ${rep.activityRecords}, unpersisted ${rep.unpersisted}, tsdb ${rep.tsdbQueries}, reads ${s.reads} (${s.rru} RRU), writes ${s.writes} (${s.wru} WRU); cpu guardian ${s.cpuMs} ms, dynalite ${s.ddbCpuMs} ms; load ${loadavg()[0]?.toFixed(1)}`,
        );
        if (k === 0) {
          // the very first tick creates 10k GUARD items: not an invocation's usual first tick
          if (inv > 0) firsts.push(s);
        } else {
          steadies.push(s);
          steadyReports.push(rep);
        }
      }
      const { out: saved, s } = await measure(() => checkpoint(deps, memory));
      checkpoints.push(s);
      note(
        `invocation ${inv + 1} checkpoint: ${s.ms} ms, ${saved.written} written, ${saved.stale} stale, ${s.wru} WRU`,
      );
    }
    const med = (xs: Sample[], f: (s: Sample) => number) => median(xs.map(f));
    const containers = HOSTS * PER_HOST;
    const load = Number(loadavg()[0]?.toFixed(1));
    emit({
      name: 'guardian.tick_10k_ms',
      value: med(steadies, (s) => s.ms),
      unit: 'ms',
      tick: 'steady (not the first of its invocation)',
      containers,
      hosts: HOSTS,
      runs: steadies.length,
      guardianCpuMs: med(steadies, (s) => s.cpuMs),
      dynaliteCpuMs: med(steadies, (s) => s.ddbCpuMs),
      loadAvg: load,
    });
    const first = firsts[0] as Sample;
    emit({
      name: 'guardian.tick_10k_first_ms',
      value: first.ms,
      unit: 'ms',
      tick: 'first of an invocation (host listing + whole partitions, GUARD items existing)',
      containers,
      reads: first.reads,
      writes: first.writes,
      guardianCpuMs: first.cpuMs,
      dynaliteCpuMs: first.ddbCpuMs,
      loadAvg: load,
    });
    emit({
      name: 'guardian.checkpoint_10k_ms',
      value: med(checkpoints, (s) => s.ms),
      unit: 'ms',
      writes: med(checkpoints, (s) => s.writes),
    });
    emit({
      name: 'guardian.tsdb_queries_per_tick',
      value: median(steadyReports.map((r) => r.tsdbQueries)),
      unit: 'queries',
      batchSize: 500,
    });
    emit({
      name: 'guardian.ddb_reads_per_tick',
      value: med(steadies, (s) => s.reads),
      unit: 'requests',
      tick: 'steady',
      rru: med(steadies, (s) => s.rru),
      firstTickReads: first.reads,
    });
    emit({
      name: 'guardian.ddb_writes_per_tick',
      value: med(steadies, (s) => s.writes),
      unit: 'requests',
      tick: 'steady',
      wru: med(steadies, (s) => s.wru),
      guardWrites: median(steadyReports.map((r) => r.guardWrites)),
      activityRecords: median(steadyReports.map((r) => r.activityRecords)),
      requests: median(steadyReports.map((r) => r.requests.length)),
      note: '10% of containers have events each tick; requests are recorded, never applied, so the same containers request again every 2 (up) or 6 (down) ticks',
    });

    // Cost: one invocation a minute at the issue's 10 s cadence = 1 first tick + 5 steady + checkpoint.
    // Reads: the Guardian's, measured. Writes: request-driven ones (GUARD + request activity) are in
    // lean()'s scale actions (one per container per hour), plus the event activity that starts each
    // run leading to an action; the checkpoint is measured. This bench's mix requests ~120× more
    // often than that (requests are never applied here), so its writes are given beside, as measured.
    const ticksPerInvocation = 60 / ASSUMED_FLEET.tickSeconds;
    const rruPerMinute = first.rru + (ticksPerInvocation - 1) * med(steadies, (s) => s.rru);
    const checkpointWru = med(checkpoints, (s) => s.wru);
    const assumed = lean(PER_HOST);
    const actionsPerContainerTick = ASSUMED_FLEET.tickSeconds / 3600;
    const withGuardian = (guardianWruPerContainerTick: number): LoopCounts => ({
      ...assumed,
      perContainerTick: {
        ...assumed.perContainerTick,
        readUnits: rruPerMinute / ticksPerInvocation / containers,
        writeUnits: assumed.perContainerTick.writeUnits + guardianWruPerContainerTick,
      },
      perTick: { ...assumed.perTick, readUnits: 0 }, // config + rules are in the measured reads
    });
    const fleet = { containers: 1000, containersPerHost: PER_HOST, tickSeconds: ASSUMED_FLEET.tickSeconds };
    const estimate = estimateMonthlyCost(
      withGuardian(actionsPerContainerTick * 1 + checkpointWru / ticksPerInvocation / containers),
      fleet,
    );
    const steadyWru = steadies.reduce((n, s) => n + s.wru, 0) / steadies.length;
    const benchMix = estimateMonthlyCost(
      withGuardian(
        (first.wru + (ticksPerInvocation - 1) * steadyWru + checkpointWru) / ticksPerInvocation / containers,
      ),
      fleet,
    );
    const perMonth1000 = (units: number, price: number) =>
      units * (SECONDS_PER_MONTH / 60) * (1000 / containers) * price;
    note(
      `cost lines (1,000 containers): ${estimate.lines.map((l) => `${l.service} ${l.item} $${l.usdPerMonth.toFixed(2)}`).join('; ')}`,
    );
    emit({
      name: 'guardian.cost_per_1000_usd_month',
      value: Number(estimate.usdPer1000ContainersPerMonth.toFixed(2)),
      unit: 'USD/month',
      guardianReadsUsd: Number(perMonth1000(rruPerMinute, PRICES.dynamoReadRequestUnitUsd).toFixed(2)),
      guardianCheckpointUsd: Number(perMonth1000(checkpointWru, PRICES.dynamoWriteRequestUnitUsd).toFixed(2)),
      rruPerMinute,
      checkpointWru,
      benchMixUsd: Number(benchMix.usdPer1000ContainersPerMonth.toFixed(2)),
      note: "Guardian reads and checkpoint measured at 10k containers; scale actions (one per container per hour) and everything else from bench/cost/assumptions.ts lean(); benchMixUsd: with this bench's measured request-driven writes instead",
    });
    doc.destroy();
  } finally {
    await Promise.all([ddb.stop(), vm.stop()]);
  }
}

export async function run(emit: Emit): Promise<void> {
  if (process.env.BENCH_GUARDIAN_HOSTS === undefined) await decisionsPerSecond(emit);
  await fullTick(emit);
}
