/**
 * A recorded run of the loop for the dashboard's tests: one host with two
 * containers, ten minutes of usage in BDWatchdog's names and the allocation
 * history the snapshoter writes, plus the state items, activity and rules —
 * written through the same key builders and VictoriaMetrics' OpenTSDB /api/put.
 */

import { writeActivity } from '../../adapters/dynamodb/activity.ts';
import { Catalog } from '../../adapters/dynamodb/catalog.ts';
import type { TableClient } from '../../adapters/dynamodb/table-client.ts';
import { Activity } from '../../core/contracts/activity.ts';
import { GuardState } from '../../core/contracts/guard-state.ts';
import { HostState } from '../../core/contracts/host.ts';
import { keys } from '../../core/contracts/table-layout.ts';
import { DEFAULT_RULES } from '../../core/policy/default-rules.ts';

export const RUN_HOST = 'demo-host';
export const RUN_CONTAINERS = ['demo1', 'demo2'] as const;
export const RUN_MINUTES = 10;
export const ORDER_REASON = 'usage 182 above upper 170 for 3 ticks';

/** CPU usage of demo1 at second `s` of the run: idle, burst from 120 s, idle again after 420 s. */
export function cpuUsageAt(s: number): number {
  return s >= 120 && s < 420 ? 180 + (s % 7) : 8 + (s % 3);
}
/** Allocated CPU of demo1: 100 until the order at 150 s, 250 after, 120 after the scale-down at 480 s. */
export function cpuCurrentAt(s: number): number {
  return s < 150 ? 100 : s < 480 ? 250 : 120;
}

export async function seedRecordedRun(
  table: TableClient,
  tsdb: { opentsdbUrl: string; flush(): Promise<void> },
  endMs: number,
): Promise<void> {
  const startMs = endMs - RUN_MINUTES * 60_000;
  const host = HostState.parse({
    name: RUN_HOST,
    version: 7,
    cpuPlacement: 'quota',
    capacity: {
      cpu: {
        max: 200,
        free: 200 - 120 - 50,
        topology: [
          { id: '0', socket: 0, core: 0 },
          { id: '1', socket: 0, core: 1 },
        ],
        cores: {},
      },
      mem: { max: 4096, free: 4096 - 512 - 256 },
    },
    containers: {
      demo1: {
        name: 'demo1',
        host: RUN_HOST,
        guard: true,
        resources: {
          cpu: { max: 400, min: 50, current: 120 },
          mem: { max: 1024, min: 128, current: 512 },
        },
        desiredVersion: 3,
      },
      demo2: {
        name: 'demo2',
        host: RUN_HOST,
        guard: true,
        resources: {
          cpu: { max: 200, min: 50, current: 50 },
          mem: { max: 512, min: 128, current: 256 },
        },
        desiredVersion: 1,
      },
    },
  });
  await table.put({ ...keys.hostState(RUN_HOST), ...host });
  for (const name of RUN_CONTAINERS) {
    const guard = GuardState.parse({
      structure: name,
      structureType: 'container',
      version: 4,
      limits: {
        cpu: { boundary: 10, upper: name === 'demo1' ? 80 : 30, lower: name === 'demo1' ? 40 : 10 },
        mem: { boundary: 10, upper: name === 'demo1' ? 410 : 205, lower: name === 'demo1' ? 308 : 154 },
      },
      lastDecision: {
        at: endMs - 60_000,
        resource: 'cpu',
        text: name === 'demo1' ? 'CpuRescaleDown fit to usage' : 'stable',
      },
    });
    await table.put({ ...keys.guard(RUN_HOST, name), ...guard });
  }
  const activity = [
    Activity.parse({
      structure: 'demo1',
      at: startMs + 140_000,
      kind: 'event',
      resource: 'cpu',
      text: 'CpuRescaleUp event',
      reasons: [{ source: 'CpuRescaleUp', text: 'usage above upper' }],
    }),
    Activity.parse({
      structure: 'demo1',
      at: startMs + 150_000,
      kind: 'order',
      resource: 'cpu',
      text: 'cpu 100 → 250 shares',
      reasons: [{ source: 'CpuRescaleUp', text: ORDER_REASON }],
    }),
    Activity.parse({
      structure: 'demo1',
      at: startMs + 480_000,
      kind: 'order',
      resource: 'cpu',
      text: 'cpu 250 → 120 shares',
      reasons: [{ source: 'CpuRescaleDown', text: 'usage 10 below lower 200 for 8 ticks: fit to usage' }],
    }),
  ];
  // The event and the first order as the control tick writes them (packed under the host's
  // partition, with a line of demo2's); the second order in the one-item-per-line layout.
  const demo2Event = Activity.parse({
    structure: 'demo2',
    at: startMs + 145_000,
    kind: 'event',
    resource: 'mem',
    text: 'MemRescaleDown event',
    reasons: [{ source: 'MemRescaleDown', text: 'usage below lower' }],
  });
  const [event, firstOrder, secondOrder] = activity as [Activity, Activity, Activity];
  await writeActivity(
    table,
    [event, demo2Event, firstOrder].map((a, i) => ({ activity: a, seq: `p${i}`, host: RUN_HOST })),
  );
  await table.put({ ...keys.activity(secondOrder.structure, secondOrder.at, 's2'), ...secondOrder });
  // As the bootstrap stores them (through the Catalog, with their version).
  const catalog = new Catalog(table);
  for (const rule of DEFAULT_RULES) await catalog.putRule(rule);

  const points: { metric: string; timestamp: number; value: number; tags: Record<string, string> }[] = [];
  for (let s = 0; s <= RUN_MINUTES * 60; s += 5) {
    const ts = Math.floor((startMs + s * 1000) / 1000);
    const cpu1 = cpuUsageAt(s);
    points.push(
      { metric: 'proc.cpu.user', timestamp: ts, value: cpu1 * 0.8, tags: { host: 'demo1' } },
      { metric: 'proc.cpu.kernel', timestamp: ts, value: cpu1 * 0.2, tags: { host: 'demo1' } },
      { metric: 'proc.mem.resident', timestamp: ts, value: 200 + Math.min(s, 300), tags: { host: 'demo1' } },
      { metric: 'proc.cpu.user', timestamp: ts, value: 20, tags: { host: 'demo2' } },
      { metric: 'proc.mem.resident', timestamp: ts, value: 120, tags: { host: 'demo2' } },
      {
        metric: 'structure.cpu.current',
        timestamp: ts,
        value: cpuCurrentAt(s),
        tags: { structure: 'demo1' },
      },
      { metric: 'limit.cpu.upper', timestamp: ts, value: cpuCurrentAt(s) - 40, tags: { structure: 'demo1' } },
      { metric: 'limit.cpu.lower', timestamp: ts, value: cpuCurrentAt(s) - 80, tags: { structure: 'demo1' } },
    );
  }
  const res = await fetch(`${tsdb.opentsdbUrl}/api/put`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(points),
  });
  if (!res.ok) throw new Error(`/api/put ${res.status}: ${await res.text()}`);
  await tsdb.flush();
}
