/** Builders for Guardian state: hosts with containers, stored rules and config. */

import type { TableClient } from '../../adapters/dynamodb/table-client.ts';
import type { HostState } from '../../core/contracts/host.ts';
import type { Rule } from '../../core/contracts/rule.ts';
import type { GuardianConfig } from '../../core/contracts/service-config.ts';
import type { Container } from '../../core/contracts/structure.ts';
import { keys } from '../../core/contracts/table-layout.ts';
import type { Resource } from '../../core/contracts/units.ts';
import type { MetricsSource, UsageQuery, UsageResult } from '../../core/ports/metrics-source.ts';

export function aHost(name: string, containers: readonly Container[]): HostState {
  return {
    name,
    version: 1,
    cpuPlacement: 'quota',
    capacity: {
      cpu: { max: 1600, free: 400, topology: [{ id: '0', socket: 0, core: 0 }], cores: {} },
      mem: { max: 65536, free: 32768 },
      disks: {},
      net: null,
    },
    containers: Object.fromEntries(containers.map((c) => [c.name, c])),
    degraded: false,
    queueUrl: null,
  };
}

export async function putHost(table: TableClient, host: HostState): Promise<void> {
  await table.put({ ...keys.hostState(host.name), ...host });
}

export async function putRules(table: TableClient, rules: readonly Rule[]): Promise<void> {
  for (const r of rules) await table.put({ ...keys.rule(r.name), ...r });
}

export async function putGuardianConfig(table: TableClient, config: Partial<GuardianConfig>): Promise<void> {
  await table.put({ ...keys.service('guardian'), name: 'guardian', config, heartbeat: null, version: 1 });
}

/** A MetricsSource that answers the same usage for every structure in every window. */
export function sameUsage(usage: Partial<Record<Resource, number | null>>): MetricsSource {
  return {
    async usage(q: UsageQuery): Promise<UsageResult> {
      return { usage: new Map(q.structures.map((s) => [s, { ...usage }])), queries: 1, rejected: [] };
    },
  };
}
