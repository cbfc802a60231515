/**
 * Scaler benchmarks.
 * - scaler.plan_requests_per_s: the pure planner on 10,000 containers over 500
 *   hosts (20 each), one cpu or mem request per container, median of 5 runs.
 * - scaler.pass_10k_ms: one Planner pass for those 10,000 requests against
 *   dynalite + fauxqs started in this process: locate, load 500 hosts, plan,
 *   500 conditional commits, 10,000 orders sent, activity recorded. The first
 *   pass (cold locator cache) is reported separately; the figure is the median
 *   of the warm passes; `cpu_ms` is the process's CPU time per warm pass
 *   (median), the steadier figure on a shared machine.
 */
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoDocumentClient, createSqsClient } from '../adapters/aws.ts';
import { ScalerStore } from '../adapters/dynamodb/scaler-store.ts';
import { tableDefinition } from '../adapters/dynamodb/table.ts';
import { TableClient } from '../adapters/dynamodb/table-client.ts';
import { ensureHostQueues } from '../adapters/sqs/order-queues.ts';
import type { HostState } from '../core/contracts/host.ts';
import type { ScaleRequest } from '../core/contracts/request.ts';
import { defaultConfig } from '../core/contracts/service-config.ts';
import type { Container } from '../core/contracts/structure.ts';
import { mapLimit } from '../core/map-limit.ts';
import { admitContainer } from '../core/policy/planner/admission.ts';
import { plan } from '../core/policy/planner/plan.ts';
import { Planner } from '../functions/scaler/scaler-pass.ts';
import { sqsOrderSender } from '../functions/scaler/sqs-order-sender.ts';
import { startDynalite, startFauxqs } from '../local/emulators.ts';
import { type Emit, median } from './figure.ts';

const HOSTS = Number(process.env.SC_BENCH_HOSTS ?? 500);
const PER_HOST = 20;
const config = defaultConfig('scaler');

function topology(): HostState['capacity']['cpu']['topology'] {
  // 2 sockets × 8 cores × 2 threads = 32 logical CPUs, 3200 shares
  const out: HostState['capacity']['cpu']['topology'] = [];
  for (let s = 0; s < 2; s++)
    for (let c = 0; c < 8; c++)
      for (let t = 0; t < 2; t++) out.push({ id: String(t * 16 + s * 8 + c), socket: s, core: c });
  return out;
}

function container(name: string, host: string): Container {
  return {
    name,
    host,
    application: null,
    guard: true,
    resources: {
      cpu: { current: 100, min: 50, max: 400, guard: true, weight: 1 },
      mem: { current: 2048, min: 512, max: 8192, guard: true, weight: 1 },
    },
    cores: [],
    disk: null,
    desiredVersion: 0,
    desiredAt: 0,
  };
}

function fleet(queueUrl: (host: string) => string | null): HostState[] {
  const topo = topology();
  const hosts: HostState[] = [];
  for (let h = 0; h < HOSTS; h++) {
    const name = `bh${h}`;
    let host: HostState = {
      name,
      version: 0,
      cpuPlacement: 'pinned',
      capacity: {
        cpu: {
          max: 3200,
          free: 3200,
          topology: topo,
          cores: Object.fromEntries(topo.map((t) => [t.id, { free: 100, alloc: {} }])),
        },
        mem: { max: 65536, free: 65536 },
        disks: {},
        net: null,
      },
      containers: {},
      degraded: false,
      queueUrl: queueUrl(name),
    };
    for (let c = 0; c < PER_HOST; c++) {
      const out = admitContainer(host, container(`bh${h}c${c}`, name), 0);
      if (!out.ok) throw new Error(out.reason);
      host = out.host;
    }
    hosts.push(host);
  }
  return hosts;
}

function requests(now: number, round: number): ScaleRequest[] {
  const out: ScaleRequest[] = [];
  for (let h = 0; h < HOSTS; h++)
    for (let c = 0; c < PER_HOST; c++) {
      const up = (c + round) % 2 === 0;
      out.push({
        id: `r${round}.${h}.${c}`,
        structure: `bh${h}c${c}`,
        structureType: 'container',
        resource: c % 3 === 0 ? 'mem' : 'cpu',
        field: 'current',
        amount: c % 3 === 0 ? (up ? 256 : -256) : up ? 25 : -25,
        priority: 0,
        timestamp: now,
        pairStructure: null,
        source: 'guardian',
        usage: c % 3 === 0 ? 1000 : null,
        reasons: [],
      });
    }
  return out;
}

export async function planThroughput(emit: Emit): Promise<void> {
  const hosts = fleet(() => null);
  const rates: number[] = [];
  for (let run = 0; run < 5; run++) {
    const reqs = requests(1_000_000, run);
    const t0 = performance.now();
    const out = plan({ hosts, requests: reqs, config, now: 1_000_000 });
    const ms = performance.now() - t0;
    if (out.orders.length !== reqs.length)
      throw new Error(`expected ${reqs.length} orders, got ${out.orders.length}`);
    rates.push(reqs.length / (ms / 1000));
  }
  emit({
    name: 'scaler.plan_requests_per_s',
    value: Math.round(median(rates)),
    unit: 'requests/s',
    runs: rates.length,
    containers: HOSTS * PER_HOST,
    hosts: HOSTS,
  });
}

export async function passAgainstEmulators(emit: Emit): Promise<void> {
  process.env.AWS_ACCESS_KEY_ID ||= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ||= 'local';
  const [ddb, sqsEmu] = await Promise.all([startDynalite(), startFauxqs()]);
  const doc = createDynamoDocumentClient({ endpoint: ddb.endpoint, region: 'us-east-1' });
  const sqs = createSqsClient({ endpoint: sqsEmu.endpoint, region: 'us-east-1' });
  try {
    await doc.send(new CreateTableCommand(tableDefinition('sc-bench')));
    const table = new TableClient(doc, 'sc-bench');
    const store = new ScalerStore(table);
    const urls = new Map<string, string>();
    await mapLimit(
      Array.from({ length: HOSTS }, (_, h) => `bh${h}`),
      16,
      async (name) => {
        urls.set(name, (await ensureHostQueues(sqs, name)).queueUrl);
      },
    );
    const hosts = fleet((name) => urls.get(name) ?? null);
    await mapLimit(hosts, 16, (h) => store.createHost(h));
    await mapLimit(
      hosts.flatMap((h) => Object.keys(h.containers).map((c) => [c, h.name] as const)),
      32,
      ([c, h]) => store.putLocator(c, h),
    );
    process.stderr.write('  seeded 500 hosts, 10,000 containers, 500 queues\n');
    const planner = new Planner({
      state: store,
      activity: store,
      orders: sqsOrderSender(sqs),
      config: () => config,
      concurrency: 32,
    });
    const warm: number[] = [];
    const warmCpu: number[] = [];
    let cold = 0;
    for (let pass = 0; pass < 4; pass++) {
      const now = Date.now();
      table.resetCounters();
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      const out = await planner.submitDetailed(requests(now, pass), now);
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      if (out.accepted !== HOSTS * PER_HOST || out.orders !== HOSTS * PER_HOST)
        throw new Error(
          `pass ${pass}: accepted ${out.accepted}, orders ${out.orders}, rejected ${out.rejected.length}`,
        );
      process.stderr.write(
        `  pass ${pass}: ${Math.round(ms)} ms (cpu ${Math.round(cpuMs)} ms), ${table.counters.reads} reads, ${table.counters.writes} writes, ${out.retries} retries, ${JSON.stringify(Object.fromEntries(Object.entries(out.timings).map(([k, v]) => [k, Math.round(v)])))}\n`,
      );
      if (pass === 0) cold = ms;
      else {
        warm.push(ms);
        warmCpu.push(cpuMs);
      }
    }
    emit({
      name: 'scaler.pass_10k_ms',
      value: Math.round(median(warm)),
      unit: 'ms',
      runs: warm.length,
      hosts: HOSTS,
      containers: HOSTS * PER_HOST,
      cold_ms: Math.round(cold),
      // CPU time of this process (planner + in-process dynalite and fauxqs) per warm pass:
      // the machine is shared, so wall time may be dominated by other load.
      cpu_ms: Math.round(median(warmCpu)),
    });
  } finally {
    sqs.destroy();
    doc.destroy();
    await Promise.all([ddb.stop(), sqsEmu.stop()]);
  }
}

export async function run(emit: Emit): Promise<void> {
  await planThroughput(emit);
  await passAgainstEmulators(emit);
}
