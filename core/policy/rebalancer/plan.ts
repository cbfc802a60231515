/**
 * The ReBalancer's decision for one period: group the structures, run the
 * configured method per group and resource, and turn the moves into paired
 * scale requests (receiver +amount, pairStructure = donor, priority 2) that
 * the planner applies together or not at all.
 *
 * Groups never span hosts for containers: scope 'host' groups a host's
 * containers, scope 'application' groups the containers of one application
 * on one host. Applications are grouped by user. Structures without usage data,
 * unguarded containers, containers on degraded hosts (their agent is not
 * answering) and stopped applications take no part.
 */
import type { ScaleRequest } from '../../contracts/request.ts';
import type { RebalancerConfig } from '../../contracts/service-config.ts';
import type { ResourceMap, UsageMap } from '../../contracts/structure.ts';
import type { Resource } from '../../contracts/units.ts';
import { planPairSwaps } from './pair-swapping.ts';
import type { Move, Peer } from './peers.ts';
import { planWeights } from './weights.ts';

export interface ContainerView {
  name: string;
  host: string;
  application: string | null;
  guard: boolean;
  resources: ResourceMap;
  usage: UsageMap;
  hostDegraded: boolean;
}

export interface ApplicationView {
  name: string;
  user: string | null;
  running: boolean;
  /** `current` = sum of the containers' allocations (see core/policy/aggregate.ts). */
  resources: ResourceMap;
  usage: UsageMap;
}

export type BalanceLevel = 'container' | 'application';

export interface PlannedMove extends Move {
  level: BalanceLevel;
  resource: Resource;
}

export interface RebalancePlan {
  moves: PlannedMove[];
  requests: ScaleRequest[];
}

export const RECEIVER_PRIORITY = 2;
/** Slice per resource unit when the caller gives none (the original's 5 units; memory in 32 MiB). */
export const DEFAULT_SLICES: Record<Resource, number> = {
  cpu: 5,
  mem: 32,
  disk_read: 5,
  disk_write: 5,
  net: 5,
};

type Config = Pick<
  RebalancerConfig,
  | 'DIFF_PERCENTAGE'
  | 'STOLEN_PERCENTAGE'
  | 'RESOURCES_BALANCED'
  | 'STRUCTURES_BALANCED'
  | 'CONTAINERS_SCOPE'
  | 'BALANCING_METHOD'
>;

export function containerGroup(c: ContainerView, scope: Config['CONTAINERS_SCOPE']): string | null {
  if (scope === 'host') return `host:${c.host}`;
  return c.application === null ? null : `host:${c.host}/app:${c.application}`;
}

export function containerPeers(
  containers: readonly ContainerView[],
  resource: Resource,
  scope: Config['CONTAINERS_SCOPE'],
): Peer[] {
  const peers: Peer[] = [];
  for (const c of containers) {
    const spec = c.resources[resource];
    const group = containerGroup(c, scope);
    if (!c.guard || c.hostDegraded || spec === undefined || group === null) continue;
    peers.push({
      name: c.name,
      group,
      current: spec.current,
      min: spec.min,
      max: spec.max,
      usage: c.usage[resource] ?? null,
      weight: spec.weight,
    });
  }
  return peers;
}

export function applicationPeers(apps: readonly ApplicationView[], resource: Resource): Peer[] {
  const peers: Peer[] = [];
  for (const a of apps) {
    const spec = a.resources[resource];
    if (!a.running || a.user === null || spec === undefined) continue;
    peers.push({
      name: a.name,
      group: `user:${a.user}`,
      current: spec.current,
      min: spec.min,
      max: spec.max,
      usage: a.usage[resource] ?? null,
      weight: spec.weight,
    });
  }
  return peers;
}

export function groupBy(peers: readonly Peer[]): Peer[][] {
  const groups = new Map<string, Peer[]>();
  for (const p of peers) {
    const list = groups.get(p.group) ?? [];
    list.push(p);
    groups.set(p.group, list);
  }
  return [...groups.keys()].sort().map((k) => groups.get(k) as Peer[]);
}

export function planRebalance(input: {
  containers: readonly ContainerView[];
  applications: readonly ApplicationView[];
  config: Config;
  slices?: Partial<Record<Resource, number>>;
  now: number;
}): RebalancePlan {
  const { config, now } = input;
  const moves: PlannedMove[] = [];
  for (const level of config.STRUCTURES_BALANCED) {
    for (const resource of config.RESOURCES_BALANCED) {
      const peers =
        level === 'container'
          ? containerPeers(input.containers, resource, config.CONTAINERS_SCOPE)
          : applicationPeers(input.applications, resource);
      const slice = input.slices?.[resource] ?? DEFAULT_SLICES[resource];
      for (const group of groupBy(peers)) {
        const found =
          config.BALANCING_METHOD === 'weights'
            ? planWeights(group, { diff: config.DIFF_PERCENTAGE })
            : planPairSwaps(group, { diff: config.DIFF_PERCENTAGE, stolen: config.STOLEN_PERCENTAGE, slice });
        for (const m of found) moves.push({ ...m, level, resource });
      }
    }
  }
  const requests: ScaleRequest[] = moves.map((m, i) => ({
    id: `rb.${now}.${m.level === 'container' ? 'c' : 'a'}.${m.resource}.${i}`,
    structure: m.to,
    structureType: m.level,
    resource: m.resource,
    field: 'current',
    amount: m.amount,
    priority: RECEIVER_PRIORITY,
    timestamp: now,
    pairStructure: m.from,
    source: 'rebalancer',
    usage: null,
    reasons: m.reasons,
  }));
  return { moves, requests };
}
