/**
 * The state table's key layout: the one place key strings are spelled, shared by
 * the functions' store adapters and the host agent (both must agree on it). The
 * table's definition for CreateTable is in adapters/dynamodb/table.ts.
 * docs/state.md has the access-pattern table this serves; keep the two in step.
 */

export const DEFAULT_TABLE_NAME = 'sc-state';
export const GSI1 = 'gsi1';

/**
 * The table's TTL attribute: epoch seconds after which DynamoDB may delete the
 * item (lazily, up to days later). Only activity lines (LOG#) carry it.
 */
export const TTL_ATTRIBUTE = 'expiresAtS';
/** How long activity lines are kept unless SC_ACTIVITY_RETENTION_DAYS says otherwise. */
export const DEFAULT_ACTIVITY_RETENTION_DAYS = 7;

/** Key builders: the only place key strings are spelled. */
export const keys = {
  hostState: (host: string) => ({ pk: `HOST#${host}`, sk: 'STATE', gsi1pk: 'HOSTS', gsi1sk: host }),
  hostPartition: (host: string) => `HOST#${host}`,
  guard: (host: string, container: string) => ({ pk: `HOST#${host}`, sk: `GUARD#${container}` }),
  /**
   * Where a host partition's guard states begin: its sort keys are AGENT < APPLIED#… < GUARD#… <
   * STATE, so `sk >= this` reads the guard states and the host state without the agent's items.
   */
  hostGuardsFrom: 'GUARD#',
  applied: (host: string, container: string) => ({ pk: `HOST#${host}`, sk: `APPLIED#${container}` }),
  agent: (host: string) => ({ pk: `HOST#${host}`, sk: 'AGENT' }),
  containerLocator: (container: string) => ({
    pk: `CT#${container}`,
    sk: 'LOCATOR',
    gsi1pk: 'CONTAINERS',
    gsi1sk: container,
  }),
  application: (app: string) => ({ pk: `APP#${app}`, sk: 'APP', gsi1pk: 'APPS', gsi1sk: app }),
  applicationGuard: (app: string) => ({ pk: `APP#${app}`, sk: 'GUARD' }),
  user: (user: string) => ({ pk: `USER#${user}`, sk: 'USER', gsi1pk: 'USERS', gsi1sk: user }),
  rule: (name: string) => ({ pk: 'RULES', sk: name }),
  rulesPartition: 'RULES',
  service: (name: string) => ({ pk: 'SERVICES', sk: name }),
  servicesPartition: 'SERVICES',
  lease: (name: string) => ({ pk: 'LEASE', sk: name }),
  /** The control tick's shard record (core/contracts/shards.ts): beside the leases it coordinates. */
  shardRecord: { pk: 'LEASE', sk: 'control-tick-shards' },
  /** What a control-tick chain hands to its next tick (core/contracts/carry.ts), by its lease name. */
  carry: (chain: string) => ({ pk: 'CARRY', sk: chain }),
  activity: (structure: string, atMs: number, seq: string) => ({
    pk: `LOG#${structure}`,
    sk: `${String(atMs).padStart(15, '0')}#${seq}`,
  }),
  activityPartition: (structure: string) => `LOG#${structure}`,
  /** Sort keys of the activity items written at [fromMs, toMs] (a packed item's is its newest line's). */
  activitySkBetween: (fromMs: number, toMs: number): [string, string] => [
    String(Math.max(0, Math.floor(fromMs))).padStart(15, '0'),
    `${String(Math.max(0, Math.floor(toMs))).padStart(15, '0')}#\uffff`,
  ],
} as const;

/** The host a `HOST#<host>` partition key names; null for any other partition. */
export function hostOfPartition(pk: string): string | null {
  return pk.startsWith('HOST#') ? pk.slice('HOST#'.length) : null;
}

export const GSI1_KINDS = { hosts: 'HOSTS', containers: 'CONTAINERS', apps: 'APPS', users: 'USERS' } as const;
