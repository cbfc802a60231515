/**
 * Builders for the operations tests: host state items with containers, and
 * helpers that write them (and agent items) the way their owners store them:
 * the contract's fields at the top level beside the keys.
 */

import type { TableClient } from '../../adapters/dynamodb/table-client.ts';
import { type HostState, HostState as HostStateSchema } from '../../core/contracts/host.ts';
import type { AgentHeartbeat, AgentReport } from '../../core/contracts/report.ts';
import type { Container, ResourceSpec, UsageMap } from '../../core/contracts/structure.ts';
import { keys } from '../../core/contracts/table-layout.ts';
import type { Clock } from '../../core/ports/clock.ts';
import type { MetricsSource, UsageQuery, UsageResult } from '../../core/ports/metrics-source.ts';

export function spec(current: number, max: number, min = 0, weight = 1): ResourceSpec {
  return { current, max, min, guard: true, weight };
}

/** A 4-core host (400 shares, 8 GiB) in quota mode whose free capacity matches its containers. */
export function aHostState(
  name: string,
  containers: readonly Container[],
  over: Partial<HostState> = {},
): HostState {
  const sum = (res: 'cpu' | 'mem') => containers.reduce((s, c) => s + (c.resources[res]?.current ?? 0), 0);
  return HostStateSchema.parse({
    name,
    version: 1,
    cpuPlacement: 'quota',
    capacity: {
      cpu: {
        max: 400,
        free: 400 - sum('cpu'),
        topology: ['0', '1', '2', '3'].map((id) => ({ id, socket: 0, core: Number(id) })),
        cores: {},
      },
      mem: { max: 8192, free: 8192 - sum('mem') },
    },
    containers: Object.fromEntries(containers.map((c) => [c.name, c])),
    ...over,
  });
}

export async function seedHost(table: TableClient, state: HostState): Promise<void> {
  await table.put({ ...keys.hostState(state.name), ...state });
}

export async function seedHeartbeat(table: TableClient, hb: AgentHeartbeat): Promise<void> {
  await table.put({ ...keys.agent(hb.host), ...hb });
}

export async function seedApplied(table: TableClient, report: AgentReport): Promise<void> {
  await table.put({ ...keys.applied(report.host, report.container), ...report });
}

export function anAppliedReport(
  host: string,
  container: string,
  appliedVersion: number,
  appliedAt: number,
): AgentReport {
  return {
    host,
    container,
    appliedVersion,
    appliedAt,
    outcome: 'applied',
    limits: {
      cpuShares: 100,
      cpuset: null,
      memMiB: 1024,
      diskReadMiBps: null,
      diskWriteMiBps: null,
      netMbps: null,
    },
    issues: [],
    via: 'order',
  };
}

/** A clock the test moves by hand; sleep advances it. */
export class ManualClock implements Clock {
  t: number;
  constructor(t: number) {
    this.t = t;
  }
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.t += Math.max(0, ms);
  }
}

/** A MetricsSource that answers what the test scripted for the window ending at `endS`. */
export class ScriptedMetrics implements MetricsSource {
  readonly byEndS = new Map<number, Map<string, UsageMap>>();
  readonly queries: UsageQuery[] = [];
  async usage(query: UsageQuery): Promise<UsageResult> {
    this.queries.push(query);
    const known = this.byEndS.get(query.window.endS) ?? this.byEndS.get(-1) ?? new Map<string, UsageMap>();
    const usage = new Map(query.structures.map((s) => [s, known.get(s) ?? {}]));
    return { usage, queries: 1, rejected: [] };
  }
}
