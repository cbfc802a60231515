/**
 * Operations figures: ReBalancer planning time over a fleet, and the sanity
 * sweep's cost per host on dynalite (time and DynamoDB requests).
 */
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoDocumentClient } from '../adapters/aws.ts';
import { tableDefinition } from '../adapters/dynamodb/table.ts';
import { TableClient } from '../adapters/dynamodb/table-client.ts';
import { silentLogger } from '../adapters/logger.ts';
import { HostState } from '../core/contracts/host.ts';
import { defaultConfig } from '../core/contracts/service-config.ts';
import type { Container } from '../core/contracts/structure.ts';
import { keys } from '../core/contracts/table-layout.ts';
import { type ContainerView, planRebalance } from '../core/policy/rebalancer/plan.ts';
import { ruleFindings } from '../core/policy/sanity-findings.ts';
import { sanitySweep } from '../functions/ops/sanity-sweep.ts';
import { startDynalite } from '../local/emulators.ts';
import { type Emit, median } from './figure.ts';

const HOSTS = 50;
const PER_HOST = 20;

function container(h: number, i: number): Container {
  return {
    name: `c${h}-${i}`,
    host: `h${h}`,
    application: `app${i % 4}`,
    guard: true,
    resources: {
      cpu: { max: 400, min: 50, current: 100 + ((h * 7 + i * 13) % 200), guard: true, weight: 1 + (i % 3) },
    },
    cores: [],
    disk: null,
    desiredVersion: 1,
    desiredAt: 0,
  };
}

export async function run(emit: Emit): Promise<void> {
  const views: ContainerView[] = [];
  for (let h = 0; h < HOSTS; h++)
    for (let i = 0; i < PER_HOST; i++) {
      const c = container(h, i);
      const current = c.resources.cpu?.current ?? 0;
      views.push({ ...c, usage: { cpu: (current * ((h + i * 31) % 100)) / 100 }, hostDegraded: false });
    }
  for (const method of ['pair_swapping', 'weights'] as const) {
    const config = { ...defaultConfig('rebalancer'), ACTIVE: true, BALANCING_METHOD: method };
    const times: number[] = [];
    let moves = 0;
    for (let k = 0; k < 20; k++) {
      const t = performance.now();
      moves = planRebalance({ containers: views, applications: [], config, now: k }).moves.length;
      times.push(performance.now() - t);
    }
    emit({
      name: `ops.rebalance_plan_ms.${method}`,
      value: median(times),
      unit: 'ms',
      containers: views.length,
      moves,
    });
  }

  const db = await startDynalite();
  // The emulator accepts any credentials; the SDK still wants some.
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  try {
    const doc = createDynamoDocumentClient({ endpoint: db.endpoint, region: 'us-east-1' });
    await doc.send(new CreateTableCommand(tableDefinition('bench-ops')));
    const table = new TableClient(doc, 'bench-ops');
    const hosts = 20;
    for (let h = 0; h < hosts; h++) {
      const cs = Array.from({ length: PER_HOST }, (_, i) => container(h, i));
      const used = cs.reduce((s, c) => s + (c.resources.cpu?.current ?? 0), 0);
      const state = HostState.parse({
        name: `h${h}`,
        version: 1,
        cpuPlacement: 'quota',
        capacity: {
          cpu: {
            max: 100 * 64,
            free: 100 * 64 - used,
            topology: [{ id: '0', socket: 0, core: 0 }],
            cores: {},
          },
          mem: { max: 65536, free: 65536 },
        },
        containers: Object.fromEntries(cs.map((c) => [c.name, c])),
      });
      await table.put({ ...keys.hostState(state.name), ...state });
      await table.put({
        ...keys.agent(state.name),
        host: state.name,
        at: Date.now(),
        agentVersion: '1',
        cgroupVersion: 'v1',
        containers: [],
      });
    }
    const times: number[] = [];
    let reads = 0;
    for (let k = 0; k < 7; k++) {
      table.resetCounters();
      const t = performance.now();
      await sanitySweep({
        table,
        clock: { now: () => Date.now(), sleep: async () => {} },
        logger: silentLogger,
        checkRules: ruleFindings,
        resend: async () => [],
      });
      times.push(performance.now() - t);
      reads = table.counters.reads;
    }
    emit({
      name: 'ops.sanity_sweep_ms_per_host',
      value: median(times) / hosts,
      unit: 'ms',
      hosts,
      containersPerHost: PER_HOST,
      emulator: 'dynalite',
    });
    emit({ name: 'ops.sanity_sweep_reads_per_host', value: reads / hosts, unit: 'requests', hosts });
    doc.destroy();
  } finally {
    await db.stop();
  }
}
