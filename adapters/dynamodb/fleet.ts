/**
 * Reads the whole fleet's state for the periodic operations (ReBalancer,
 * snapshoter, sanity sweep): every host partition (state, guard states,
 * applied reports, agent heartbeat), applications with their guard states,
 * users, service configs and rules. One Query per host and per application,
 * plus the kind listings. Items that fail their schema are returned in
 * `invalid` (named by key) instead of stopping the sweep.
 */

import type { GuardState } from '../../core/contracts/guard-state.ts';
import type { HostState } from '../../core/contracts/host.ts';
import type { Item } from '../../core/contracts/items.ts';
import {
  applicationGuardItem,
  appliedItem,
  body,
  containerGuardItem,
  heartbeatItem,
  hostStateItem,
  hostStateToItem,
  type ItemCodec,
} from '../../core/contracts/items.ts';
import type { AgentHeartbeat, AgentReport } from '../../core/contracts/report.ts';
import { type Rule, Rule as RuleSchema } from '../../core/contracts/rule.ts';
import {
  SERVICE_CONFIGS,
  type ServiceConfigOf,
  type ServiceDoc,
  ServiceDoc as ServiceDocSchema,
  type ServiceName,
} from '../../core/contracts/service-config.ts';
import {
  type Application,
  Application as ApplicationSchema,
  type User,
  User as UserSchema,
} from '../../core/contracts/structure.ts';
import { GSI1_KINDS, keys } from '../../core/contracts/table-layout.ts';
import { parseOrThrow } from '../../core/errors.ts';
import { mapLimit } from '../../core/map-limit.ts';
import type { TableClient } from './table-client.ts';

export interface HostView {
  state: HostState;
  guards: Map<string, GuardState>;
  applied: Map<string, AgentReport>;
  heartbeat: AgentHeartbeat | null;
}

export interface ApplicationView {
  app: Application;
  guard: GuardState | null;
}

export interface InvalidItem {
  pk: string;
  sk: string;
  error: string;
}

export interface Fleet {
  hosts: HostView[];
  applications: ApplicationView[];
  users: User[];
  services: Map<ServiceName, ServiceDoc>;
  rules: Rule[];
  invalid: InvalidItem[];
}

/** Partitions read at once: enough to hide latency, few enough to stay far from throttling. */
const READ_CONCURRENCY = 8;

export { body } from '../../core/contracts/items.ts';

/**
 * `consistent: false` reads the host partitions eventually consistent (half the read units).
 * `reports: false` leaves out each host's agent items (AGENT, APPLIED#…: `heartbeat` null,
 * `applied` empty): the host partitions are read from `GUARD#` on (GUARD#…, STATE sort after
 * the agent's items), which reads fewer units for a reader that does not use them.
 */
export async function readFleet(
  table: TableClient,
  opts: { rules?: boolean; consistent?: boolean; reports?: boolean } = {},
): Promise<Fleet> {
  const invalid: InvalidItem[] = [];
  const parse = <T>(schema: Parameters<typeof parseOrThrow>[0], item: Item, what: string): T | null => {
    try {
      return parseOrThrow(schema, body(item), what) as T;
    } catch (err) {
      invalid.push({ pk: String(item.pk), sk: String(item.sk), error: (err as Error).message });
      return null;
    }
  };
  const decode = <T>(codec: ItemCodec<T, never>, item: Item): T | null => {
    try {
      return codec.fromItem(item);
    } catch (err) {
      invalid.push({ pk: String(item.pk), sk: String(item.sk), error: (err as Error).message });
      return null;
    }
  };

  const [hostNames, appNames, userNames, serviceItems, ruleItems] = await Promise.all([
    table.listKind(GSI1_KINDS.hosts),
    table.listKind(GSI1_KINDS.apps),
    table.listKind(GSI1_KINDS.users),
    table.queryPartition(keys.servicesPartition),
    opts.rules === false ? Promise.resolve([]) : table.queryPartition(keys.rulesPartition),
  ]);

  const hostItems = await mapLimit([...hostNames].sort(), READ_CONCURRENCY, (name) =>
    table.queryPartition(keys.hostPartition(name), {
      consistent: opts.consistent ?? true,
      ...(opts.reports === false ? { skFrom: keys.hostGuardsFrom } : {}),
    }),
  );
  const hosts: HostView[] = [];
  for (const [idx] of [...hostNames].sort().entries()) {
    const items = hostItems[idx] ?? [];
    let state: HostState | null = null;
    const guards = new Map<string, GuardState>();
    const applied = new Map<string, AgentReport>();
    let heartbeat: AgentHeartbeat | null = null;
    for (const item of items) {
      const sk = String(item.sk);
      if (sk === 'STATE') state = decode(hostStateItem, item);
      else if (sk === 'AGENT') heartbeat = decode(heartbeatItem, item);
      else if (sk.startsWith('GUARD#')) {
        const g = decode(containerGuardItem, item);
        if (g !== null) guards.set(g.structure, g);
      } else if (sk.startsWith('APPLIED#')) {
        const r = decode(appliedItem, item);
        if (r !== null) applied.set(r.container, r);
      }
    }
    if (state !== null) hosts.push({ state, guards, applied, heartbeat });
  }

  const sortedApps = [...appNames].sort();
  const appItems = await mapLimit(sortedApps, READ_CONCURRENCY, (name) =>
    table.queryPartition(`APP#${name}`),
  );
  const applications: ApplicationView[] = [];
  for (const [idx, name] of sortedApps.entries()) {
    const items = appItems[idx] ?? [];
    const appItem = items.find((i) => i.sk === keys.application(name).sk);
    const guardItem = items.find((i) => i.sk === keys.applicationGuard(name).sk);
    const app =
      appItem === undefined ? null : parse<Application>(ApplicationSchema, appItem, `application ${name}`);
    const guard = guardItem === undefined ? null : decode(applicationGuardItem, guardItem);
    if (app !== null) applications.push({ app, guard });
  }

  const sortedUsers = [...userNames].sort();
  const userItems = await mapLimit(sortedUsers, READ_CONCURRENCY, (name) => {
    const { pk, sk } = keys.user(name);
    return table.get({ pk, sk });
  });
  const users: User[] = [];
  for (const [idx, name] of sortedUsers.entries()) {
    const item = userItems[idx] ?? null;
    const user = item === null ? null : parse<User>(UserSchema, item, `user ${name}`);
    if (user !== null) users.push(user);
  }

  const services = new Map<ServiceName, ServiceDoc>();
  for (const item of serviceItems) {
    const doc = parse<ServiceDoc>(ServiceDocSchema, item, `service ${String(item.sk)}`);
    if (doc !== null) services.set(doc.name, doc);
  }
  const rules: Rule[] = [];
  for (const item of ruleItems) {
    // Rules are stored with the catalog's `version` beside the rule's own fields.
    const { version: _version, ...fields } = item;
    const rule = parse<Rule>(RuleSchema, fields, `rule ${String(item.sk)}`);
    if (rule !== null) rules.push(rule);
  }
  return { hosts, applications, users, services, rules, invalid };
}

/** A service's config: its stored document over the defaults (hot-reloaded each run). */
export function serviceConfig<S extends ServiceName>(
  services: ReadonlyMap<ServiceName, ServiceDoc>,
  name: S,
): ServiceConfigOf<S> {
  return parseOrThrow(
    SERVICE_CONFIGS[name],
    services.get(name)?.config ?? {},
    `config of ${name}`,
  ) as ServiceConfigOf<S>;
}

/** Read one service's config only (one Get). */
export async function readServiceConfig<S extends ServiceName>(
  table: TableClient,
  name: S,
): Promise<ServiceConfigOf<S>> {
  const item = await table.get(keys.service(name));
  const doc = item === null ? null : parseOrThrow(ServiceDocSchema, body(item), `service ${name}`);
  return parseOrThrow(SERVICE_CONFIGS[name], doc?.config ?? {}, `config of ${name}`) as ServiceConfigOf<S>;
}

/** Write a host state item with a conditional write on its version (StaleStateError on a lost race). */
export async function writeHostState(
  table: TableClient,
  state: HostState,
  expectedVersion: number,
): Promise<void> {
  await table.putVersioned(hostStateToItem(state), expectedVersion, `host ${state.name}`);
}
