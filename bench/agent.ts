/**
 * Host agent figures, with the agent as its own process (host-agent/main.ts)
 * against the emulators (dynalite + fauxqs) on 127.0.0.1:
 * - agent.order_latency_p50_ms / _p95_ms: send → cgroup written → report visible in the table, ≥ 200 orders;
 * - agent.rss_mb, agent.idle_cpu_pct: resident memory, and CPU over 10 s with nothing to do (% of one core);
 * - agent.oom_fastpath_ms: a task stalled under OOM (oom_kill_disable) → the raised limit in the kernel.
 * As root it writes real cgroups made here (lxc.payload.scbench-*), removed at the end; otherwise a temporary
 * v1 tree and no fast-path figure. Each figure is the median of RUNS runs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoDocumentClient, createSqsClient } from '../adapters/aws.ts';
import { tableDefinition } from '../adapters/dynamodb/table.ts';
import { TableClient } from '../adapters/dynamodb/table-client.ts';
import { ensureHostQueues, sendOrder } from '../adapters/sqs/order-queues.ts';
import { orderId } from '../core/contracts/order.ts';
import { keys } from '../core/contracts/table-layout.ts';
import { startDynalite, startFauxqs } from '../local/emulators.ts';
import { userSpaceAlloc } from '../test/host/support/lxc.ts';
import { aHostState } from '../test/support/agent-fakes.ts';
import { makeCgroupTree } from '../test/support/cgroup-tree.ts';
import { type Emit, median, percentile } from './figure.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'local';
process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
const ORDERS = 200;
const CONTAINERS = 4;
const MiB = 1_048_576;
const V1 = ['cpu', 'cpuacct', 'cpuset', 'memory', 'blkio'];

/**
 * How the agent is deployed (host-agent/host-agent.service): an esbuild bundle, so Node's
 * TypeScript stripping (≈ 17 MB) is not loaded, jitless with a small heap.
 * BENCH_AGENT_SOURCE=1 runs host-agent/main.ts as is instead; BENCH_AGENT_FLAGS="…" replaces the flags.
 */
export const AGENT_NODE_FLAGS = process.env.BENCH_AGENT_SOURCE
  ? []
  : (process.env.BENCH_AGENT_FLAGS?.split(' ').filter(Boolean) ?? [
      '--jitless',
      '--max-old-space-size=48',
      '--max-semi-space-size=1',
    ]);
/** The glibc malloc settings of host-agent.service (fewer arenas, freed memory given back). */
export const AGENT_MALLOC_ENV = process.env.BENCH_AGENT_SOURCE
  ? {}
  : { MALLOC_ARENA_MAX: '2', MALLOC_TRIM_THRESHOLD_: '131072' };
let bundlePath: string | null = null;

async function agentEntry(): Promise<string> {
  if (process.env.BENCH_AGENT_SOURCE) return 'host-agent/main.ts';
  if (bundlePath === null) {
    const { buildAgentBundle } = await import('../host-agent/build.ts');
    bundlePath = await buildAgentBundle(mkdtempSync(join(tmpdir(), 'sc-agent-bundle-')));
  }
  return bundlePath;
}

interface RunFigures {
  p50: number;
  p95: number;
  rssMb: number;
  /** Private (anonymous) part of rssMb; the rest is mostly the node binary's pages, shared with any other node process. */
  rssAnonMb: number;
  rssStartMb: number;
  idleCpuPct: number;
  oomMs: number | null;
}

export async function run(emit: Emit): Promise<void> {
  const runs: RunFigures[] = [];
  for (let i = 0; i < RUNS; i++) {
    runs.push(await oneRun(i));
    process.stderr.write(`  run ${i + 1}: ${JSON.stringify(runs[i])}\n`);
  }
  const m = (f: (r: RunFigures) => number | null) => {
    const vals = runs.map(f).filter((v): v is number => v !== null);
    return vals.length === 0 ? null : Math.round(median(vals) * 10) / 10;
  };
  const extra = { runs: RUNS, orders: ORDERS, root: isRoot() };
  emit({
    name: 'agent.order_latency_p50_ms',
    value: m((r) => r.p50) ?? 0,
    unit: 'ms',
    goal: '≤ 50',
    ...extra,
  });
  emit({ name: 'agent.order_latency_p95_ms', value: m((r) => r.p95) ?? 0, unit: 'ms', ...extra });
  emit({ name: 'agent.rss_mb', value: m((r) => r.rssMb) ?? 0, unit: 'MB', goal: '< 40', ...extra });
  emit({ name: 'agent.rss_anon_mb', value: m((r) => r.rssAnonMb) ?? 0, unit: 'MB', ...extra });
  emit({
    name: 'agent.idle_cpu_pct',
    value: m((r) => r.idleCpuPct) ?? 0,
    unit: '% of a core',
    goal: '< 1',
    ...extra,
  });
  const oom = m((r) => r.oomMs);
  if (oom !== null) emit({ name: 'agent.oom_fastpath_ms', value: oom, unit: 'ms', ...extra });
  else process.stderr.write('  agent.oom_fastpath_ms needs root (real memory cgroups): skipped\n');
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

async function oneRun(index: number): Promise<RunFigures> {
  const [ddb, sqsEmu] = await Promise.all([startDynalite(), startFauxqs()]);
  const doc = createDynamoDocumentClient({ endpoint: ddb.endpoint, region: 'us-east-1' });
  const sqs = createSqsClient({ endpoint: sqsEmu.endpoint, region: 'us-east-1' });
  const host = `bench-h${index}`;
  const tableName = 'sc-bench';
  const lxcPath = mkdtempSync(join(tmpdir(), 'sc-bench-lxc-'));
  const root = isRoot();
  const tree = root ? null : makeCgroupTree('v1');
  const cgroupRoot = tree?.root ?? '/sys/fs/cgroup';
  const names = Array.from({ length: CONTAINERS }, (_, i) => `scbench-${process.pid}-${index}-${i}`);
  let child: ChildProcess | null = null;
  try {
    await doc.send(new CreateTableCommand(tableDefinition(tableName)));
    const table = new TableClient(doc, tableName);
    const queues = await ensureHostQueues(sqs, host);
    for (const n of names) {
      mkdirSync(join(lxcPath, n));
      writeFileSync(join(lxcPath, n, 'config'), `lxc.uts.name = ${n}\n`);
      if (tree !== null) tree.addContainer(n);
      else for (const c of V1) mkdirSync(`/sys/fs/cgroup/${c}/lxc.payload.${n}`, { recursive: true });
    }
    await table.put({
      ...keys.hostState(host),
      ...aHostState(host, Object.fromEntries(names.map((n) => [n, { cpu: 100, mem: 256 }])), 4096),
      queueUrl: queues.queueUrl,
    });
    child = spawn(process.execPath, [...AGENT_NODE_FLAGS, await agentEntry()], {
      env: {
        ...process.env,
        ...AGENT_MALLOC_ENV,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_ENDPOINT_URL_DYNAMODB: ddb.endpoint,
        AWS_ENDPOINT_URL_SQS: sqsEmu.endpoint,
        SC_AGENT_HOST: host,
        SC_TABLE: tableName,
        SC_AGENT_CGROUP_ROOT: cgroupRoot,
        SC_AGENT_CGROUP_VERSION: 'v1',
        SC_AGENT_LXC_PATH: lxcPath,
        SC_AGENT_RECONCILE_S: '3600',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const pid = child.pid ?? 0;
    // start-up reconciliation reports every container at v1
    for (const n of names) await waitApplied(table, host, n, 1, 30_000);

    const rssStartMb = rssKb(pid) / 1024;
    const latencies: number[] = [];
    const version = new Map(names.map((n) => [n, 1]));
    for (let i = 0; i < ORDERS; i++) {
      const n = names[i % names.length] as string;
      const v = (version.get(n) ?? 1) + 1;
      version.set(n, v);
      const t0 = performance.now();
      await sendOrder(sqs, queues.queueUrl, {
        kind: 'scale-order',
        orderId: orderId(n, v),
        host,
        container: n,
        desiredVersion: v,
        issuedAt: Date.now(),
        expiresAt: Date.now() + 60_000,
        limits: { cpuShares: 50 + (v % 2) * 50 },
        reasons: [],
      });
      await waitApplied(table, host, n, v, 10_000);
      latencies.push(performance.now() - t0);
    }

    // idle: let it settle, then count its CPU ticks over 10 s
    await sleep(1000);
    const ticks0 = cpuTicks(pid);
    await sleep(10_000);
    const idleCpuPct = ((cpuTicks(pid) - ticks0) / 100 / 10) * 100; // USER_HZ = 100
    const rssMb = rssKb(pid) / 1024;
    const rssAnonMb = rssKb(pid, 'RssAnon') / 1024;

    const oomMs = root ? await oomFastPath(names[0] as string) : null;
    return {
      p50: median(latencies),
      p95: percentile(latencies, 95),
      rssMb,
      rssAnonMb,
      rssStartMb,
      idleCpuPct,
      oomMs,
    };
  } finally {
    if (child !== null && child.exitCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
    if (root) for (const n of names) removeCgroups(n);
    tree?.cleanup();
    rmSync(lxcPath, { recursive: true, force: true });
    sqs.destroy();
    doc.destroy();
    await Promise.all([ddb.stop(), sqsEmu.stop()]);
  }
}

/** Median reaction over 5 stalls: under_oom seen → limit above the stalled one. */
async function oomFastPath(name: string): Promise<number> {
  const mem = `/sys/fs/cgroup/memory/lxc.payload.${name}`;
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    writeFileSync(`${mem}/memory.limit_in_bytes`, `${32 * MiB}`);
    writeFileSync(`${mem}/memory.oom_control`, '1');
    const limitBefore = Number(readFileSync(`${mem}/memory.limit_in_bytes`, 'utf8'));
    const p = spawn(
      '/bin/sh',
      ['-c', `echo $$ > ${mem}/cgroup.procs && exec busybox ${userSpaceAlloc(40_000_000)}`],
      {
        stdio: 'ignore',
      },
    );
    const done = once(p, 'exit');
    const deadline = Date.now() + 5000;
    let t0: number | null = null;
    let t1: number | null = null;
    while (Date.now() < deadline && t1 === null) {
      if (t0 === null && /under_oom 1/.test(readFileSync(`${mem}/memory.oom_control`, 'utf8')))
        t0 = performance.now();
      if (t0 !== null && Number(readFileSync(`${mem}/memory.limit_in_bytes`, 'utf8')) > limitBefore)
        t1 = performance.now();
      await new Promise((r) => setImmediate(r));
    }
    if (t1 === null) p.kill('SIGKILL');
    await done;
    if (t0 !== null && t1 !== null) times.push(t1 - t0);
    await sleep(300); // let the report land and the watch settle
  }
  if (times.length === 0) throw new Error('the fast path never raised the limit');
  return median(times);
}

function removeCgroups(name: string): void {
  for (const c of V1) {
    const dir = `/sys/fs/cgroup/${c}/lxc.payload.${name}`;
    if (!existsSync(dir)) continue;
    for (const pid of readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(dir);
        break;
      } catch {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      }
    }
  }
}

async function waitApplied(
  table: TableClient,
  host: string,
  container: string,
  version: number,
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const item = await table.get(keys.applied(host, container));
    if (item !== null && Number(item.appliedVersion) >= version) return;
    if (Date.now() > deadline) throw new Error(`${container} never reported v${version}`);
  }
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

function rssKb(pid: number, field = 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
