/**
 * The Guardian's state in the table (the GuardianState and TickLease ports):
 * config and rules (hot reloaded every tick, eventually consistent), host
 * partitions (host state + GUARD# items), applications, guard-state writes
 * (versioned), the control-tick lease. Activity lines: activity.ts.
 */

import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { CARRY_MAX_BYTES, ChainCarry } from '../../core/contracts/carry.ts';
import { GuardState } from '../../core/contracts/guard-state.ts';
import { HostState } from '../../core/contracts/host.ts';
import type { Item, Key } from '../../core/contracts/items.ts';
import type { Rule } from '../../core/contracts/rule.ts';
import { GuardianConfig, ServiceDoc } from '../../core/contracts/service-config.ts';
import { type ShardGeneration, ShardRecord, type ShardRef, UNSHARDED } from '../../core/contracts/shards.ts';
import { Application } from '../../core/contracts/structure.ts';
import { GSI1_KINDS, keys } from '../../core/contracts/table-layout.ts';
import { StaleStateError } from '../../core/errors.ts';
import { RuleCheckCache } from '../../core/policy/rule-check.ts';
import type {
  ActivityLine,
  AppRead,
  CarryStore,
  GuardianState,
  GuardRead,
  GuardRef,
  HostRead,
  Problem,
  ShardCoordination,
  ShardLease,
  TickLease,
} from '../../core/ports/guardian-state.ts';
import { guardId } from '../../core/ports/guardian-state.ts';
import { writeActivity } from './activity.ts';
import { Catalog } from './catalog.ts';
import type { TableClient } from './table-client.ts';

export type { AppRead, HostRead, Problem };

const TABLE_ATTRIBUTES = new Set(['pk', 'sk', 'gsi1pk', 'gsi1sk']);

function withoutKeys(item: Item): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item)) if (!TABLE_ATTRIBUTES.has(k)) out[k] = v;
  return out;
}

const RULE_FIELDS = [
  'name',
  'resource',
  'active',
  'generates',
  'rule',
  'action',
  'events_to_remove',
  'rescale_type',
  'rescale_policy',
  'amount',
];

function firstIssue(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }) {
  const i = error.issues[0];
  return { field: i ? i.path.map(String).join('.') : '', message: i?.message ?? 'invalid' };
}

/**
 * Config and rules are read every tick, eventually consistent (half the read units): an operator's
 * change is used by the first tick that starts once it has replicated (typically well under a
 * second after the write), i.e. the next tick, as with a strongly consistent read.
 */
const HOT_RELOAD = { consistent: false } as const;

/** The guardian's config from SERVICES/guardian; a broken doc is a problem and `fallback` is kept. */
export async function loadConfig(
  table: TableClient,
  fallback: GuardianConfig,
): Promise<{ config: GuardianConfig; problems: Problem[] }> {
  const item = await table.get(keys.service('guardian'), HOT_RELOAD);
  if (item === null) return { config: fallback, problems: [] };
  const doc = ServiceDoc.safeParse(withoutKeys(item));
  if (!doc.success)
    return { config: fallback, problems: [{ what: 'service guardian', ...firstIssue(doc.error) }] };
  const cfg = GuardianConfig.safeParse(doc.data.config);
  if (!cfg.success)
    return { config: fallback, problems: [{ what: 'service guardian config', ...firstIssue(cfg.error) }] };
  return { config: cfg.data, problems: [] };
}

/** Last check result per rule and config, kept across ticks of a warm instance: an unchanged rule is not re-checked. */
const ruleChecks = new RuleCheckCache();

/** Every stored rule checked against the config; refused ones are problems, never silently dropped. */
export async function loadRules(
  table: TableClient,
  config: GuardianConfig,
  checks: RuleCheckCache = ruleChecks,
): Promise<{ rules: Rule[]; problems: Problem[] }> {
  const items = await table.queryPartition(keys.rulesPartition, HOT_RELOAD);
  const rules: Rule[] = [];
  const problems: Problem[] = [];
  for (const item of items) {
    const candidate: Record<string, unknown> = {};
    for (const f of RULE_FIELDS) if (item[f] !== undefined) candidate[f] = item[f];
    const checked = checks.check(candidate, config);
    if (checked.ok) rules.push(checked.rule);
    else problems.push({ what: `rule ${String(item.sk)}`, field: checked.field, message: checked.message });
  }
  return { rules, problems };
}

export async function readHost(
  table: TableClient,
  host: string,
  opts: { consistent?: boolean } = {},
): Promise<HostRead> {
  // From GUARD# on: the guard states and STATE, not the agent's APPLIED# reports nor its AGENT item
  // (sorted before): a Query is billed for what its key condition reads.
  const items = await table.queryPartition(keys.hostPartition(host), {
    consistent: opts.consistent ?? true,
    skFrom: keys.hostGuardsFrom,
  });
  const out: HostRead = { host: null, guards: new Map(), problems: [] };
  for (const item of items) {
    const sk = String(item.sk);
    if (sk === 'STATE') {
      const parsed = parseHostState(item, host);
      if ('host' in parsed) out.host = parsed.host;
      else out.problems.push(parsed.problem);
    } else if (sk.startsWith(keys.hostGuardsFrom)) {
      const container = sk.slice(keys.hostGuardsFrom.length);
      out.guards.set(container, parseGuard(item, container));
    }
  }
  return out;
}

export async function readApplication(table: TableClient, app: string): Promise<AppRead> {
  const items = await table.queryPartition(keys.application(app).pk);
  const out: AppRead = { app: null, guard: null, problems: [] };
  for (const item of items) {
    if (item.sk === 'APP') {
      const parsed = Application.safeParse(withoutKeys(item));
      if (parsed.success) out.app = parsed.data;
      else out.problems.push({ what: `application ${app}`, ...firstIssue(parsed.error) });
    } else if (item.sk === 'GUARD') {
      out.guard = parseGuard(item, app);
    }
  }
  return out;
}

/** Parse one GUARD item: its state, or the problem that makes it unusable. */
export function parseGuard(item: Item, what: string): { state: GuardState } | { problem: Problem } {
  const parsed = GuardState.safeParse(withoutKeys(item));
  return parsed.success
    ? { state: parsed.data }
    : { problem: { what: `guard state ${what}`, ...firstIssue(parsed.error) } };
}

/** Parse one host STATE item. */
export function parseHostState(item: Item, host: string): { host: HostState } | { problem: Problem } {
  const parsed = HostState.safeParse(withoutKeys(item));
  return parsed.success
    ? { host: parsed.data }
    : { problem: { what: `host ${host} state`, ...firstIssue(parsed.error) } };
}

/** Conditional write of a guard state on its version (null: must not exist yet). */
export async function writeGuard(
  table: TableClient,
  key: { pk: string; sk: string },
  state: GuardState,
  expectedVersion: number | null,
): Promise<void> {
  await table.putVersioned({ ...key, ...state }, expectedVersion, `guard state ${state.structure}`);
}

/** The control tick's lease item (one Guardian at a time, in both clocks). */
export const LEASE_NAME = 'control-tick';

/** The lease of one shard chain: generation 0's only shard keeps the unsharded name. */
export function shardLeaseName(ref: { gen?: number | undefined; shard?: number | undefined } = {}): string {
  const gen = ref.gen ?? 0;
  const shard = ref.shard ?? 0;
  return gen === 0 && shard === 0 ? LEASE_NAME : `${LEASE_NAME}#${gen}#${shard}`;
}

/** Take or renew the lease until `expiresAt`; false when another owner holds a live one. */
export async function takeLease(
  table: TableClient,
  owner: string,
  now: number,
  expiresAt: number,
): Promise<boolean> {
  try {
    await table.putIf(
      { ...keys.lease(LEASE_NAME), owner, expiresAt },
      {
        expression: 'attribute_not_exists(pk) OR expiresAt <= :now OR #o = :me',
        names: { '#o': 'owner' },
        values: { ':now': now, ':me': owner },
      },
      'lease control-tick',
    );
    return true;
  } catch (err) {
    if (err instanceof StaleStateError) return false;
    throw err;
  }
}

export async function releaseLease(table: TableClient, owner: string): Promise<void> {
  try {
    await table.putIf(
      { ...keys.lease(LEASE_NAME), owner, expiresAt: 0 },
      { expression: '#o = :me', names: { '#o': 'owner' }, values: { ':me': owner } },
      'lease control-tick',
    );
  } catch (err) {
    if (!(err instanceof StaleStateError)) throw err;
  }
}

async function tryLease(
  table: TableClient,
  name: string,
  item: Record<string, unknown>,
  expression: string,
  values: Record<string, unknown>,
): Promise<boolean> {
  try {
    await table.putIf(
      { ...keys.lease(name), ...item },
      { expression, names: { '#o': 'owner' }, values },
      `lease ${name}`,
    );
    return true;
  } catch (err) {
    if (err instanceof StaleStateError) return false;
    throw err;
  }
}

/**
 * Take the lease for the tick `msg.at` of chain `msg.chain` (of shard `msg.shard` of generation
 * `msg.gen`: each shard has its own lease): 'resume' when this process ran the chain's previous
 * tick (memory valid), 'take' when the chain continues elsewhere or starts (memory discarded),
 * null when the tick was run already or another chain holds a live lease. `containers` (the
 * shard's guarded containers at its previous tick) is kept on the lease for the watchdog.
 */
export async function takeChainLease(
  table: TableClient,
  msg: { chain: string; at: number; gen?: number | undefined; shard?: number | undefined },
  proc: string,
  now: number,
  windowMs: number,
  containers?: number,
): Promise<'resume' | 'take' | null> {
  const name = shardLeaseName(msg);
  const item = {
    owner: msg.chain,
    proc,
    lastAt: msg.at,
    expiresAt: Math.max(now, msg.at) + 3 * windowMs,
    ...(containers === undefined ? {} : { containers }),
  };
  const values = { ':chain': msg.chain, ':at': msg.at };
  if (
    await tryLease(table, name, item, '#o = :chain AND proc = :proc AND lastAt < :at', {
      ...values,
      ':proc': proc,
    })
  )
    return 'resume';
  const taken = await tryLease(
    table,
    name,
    item,
    'attribute_not_exists(pk) OR expiresAt <= :now OR (#o = :chain AND (attribute_not_exists(lastAt) OR lastAt < :at))',
    { ...values, ':now': now },
  );
  return taken ? 'take' : null;
}

/** The shard record; UNSHARDED when none is stored. A stored record its schema refuses is an error. */
export async function readShards(table: TableClient): Promise<ShardRecord> {
  const item = await table.get(keys.shardRecord, { consistent: true });
  if (item === null) return UNSHARDED;
  return ShardRecord.parse(withoutKeys(item));
}

/** Write the shard record if the stored one is still at `expectedVersion` (0: none); false on a lost race. */
export async function writeShards(table: TableClient, next: ShardRecord, expectedVersion: number) {
  const valid = ShardRecord.parse(next);
  try {
    await table.putIf(
      { ...keys.shardRecord, ...valid },
      expectedVersion === 0
        ? { expression: 'attribute_not_exists(pk)' }
        : { expression: '#v = :v', names: { '#v': 'version' }, values: { ':v': expectedVersion } },
      'shard record',
    );
    return true;
  } catch (err) {
    if (err instanceof StaleStateError) return false;
    throw err;
  }
}

/**
 * The leases of every shard of `gen`: one BatchGetItem, or with `oneByOne` one GetItem each (the
 * sanity sweep's role reads items one by one).
 */
export async function shardLeases(
  table: TableClient,
  gen: ShardGeneration,
  opts: { oneByOne?: boolean } = {},
): Promise<ShardLease[]> {
  const ids = Array.from({ length: gen.shards }, (_, shard) => shard);
  const keyOf = (shard: number) => keys.lease(shardLeaseName({ gen: gen.gen, shard }));
  const found = new Map<number, Item | null>();
  if (opts.oneByOne === true) {
    for (const shard of ids) found.set(shard, await table.get(keyOf(shard)));
  } else {
    const items = await table.batchGet(ids.map(keyOf), { consistent: true });
    for (const shard of ids) {
      const k = keyOf(shard);
      found.set(shard, items.get(`${k.pk}|${k.sk}`) ?? null);
    }
  }
  const num = (v: unknown) => (typeof v === 'number' ? v : null);
  return ids.map((shard) => {
    const item = found.get(shard);
    return {
      shard,
      lastAt: num(item?.lastAt),
      expiresAt: num(item?.expiresAt),
      containers: num(item?.containers),
    };
  });
}

/** The deflated JSON of a chain's carry (its one attribute beside the key and `at`). */
const CARRY_ATTRIBUTE = 'carryz';

/** The carries stored for `chains` (one BatchGetItem, strongly consistent); a refused item is a problem. */
export async function readCarries(
  table: TableClient,
  chains: readonly ShardRef[],
): Promise<{ carries: ChainCarry[]; problems: Problem[] }> {
  const names = chains.map((c) => shardLeaseName(c));
  const found = await table.batchGet(
    names.map((n) => keys.carry(n)),
    { consistent: true },
  );
  const carries: ChainCarry[] = [];
  const problems: Problem[] = [];
  for (const name of names) {
    const k = keys.carry(name);
    const item = found.get(`${k.pk}|${k.sk}`);
    if (item === undefined) continue;
    const packed = item[CARRY_ATTRIBUTE];
    try {
      if (!(packed instanceof Uint8Array)) throw new Error(`no ${CARRY_ATTRIBUTE} attribute`);
      const parsed = ChainCarry.safeParse(JSON.parse(inflateRawSync(packed).toString('utf8')));
      if (parsed.success) carries.push(parsed.data);
      else {
        const i = parsed.error.issues[0];
        problems.push({
          what: `carry ${name}`,
          field: i?.path.join('.') ?? '',
          message: i?.message ?? 'invalid',
        });
      }
    } catch (err) {
      problems.push({ what: `carry ${name}`, field: CARRY_ATTRIBUTE, message: (err as Error).message });
    }
  }
  return { carries, problems };
}

/** Write a chain's carry (deflated; over CARRY_MAX_BYTES it is refused: the caller trims it). */
export async function writeCarry(table: TableClient, chain: ShardRef, carry: ChainCarry): Promise<number> {
  const packed = deflateRawSync(JSON.stringify(ChainCarry.parse(carry)), { level: 6 });
  if (packed.byteLength > CARRY_MAX_BYTES)
    throw new RangeError(
      `carry of ${shardLeaseName(chain)} is ${packed.byteLength} bytes deflated, over ${CARRY_MAX_BYTES}`,
    );
  await table.put({ ...keys.carry(shardLeaseName(chain)), at: carry.at, [CARRY_ATTRIBUTE]: packed });
  return packed.byteLength;
}

function guardKey(ref: GuardRef): Key {
  return ref.host === null ? keys.applicationGuard(ref.structure) : keys.guard(ref.host, ref.structure);
}

/** The Guardian's ports over the state table. */
export class GuardianStore implements GuardianState, TickLease, ShardCoordination, CarryStore {
  readonly table: TableClient;
  constructor(table: TableClient) {
    this.table = table;
  }

  get counters() {
    return this.table.counters;
  }
  recordHeartbeat(service: 'guardian' | 'scaler', atMs: number) {
    return new Catalog(this.table).recordHeartbeat(service, atMs);
  }
  loadConfig(fallback: GuardianConfig) {
    return loadConfig(this.table, fallback);
  }
  loadRules(config: GuardianConfig) {
    return loadRules(this.table, config);
  }
  listHosts() {
    return this.table.listKind(GSI1_KINDS.hosts);
  }
  readHost(host: string, opts?: { consistent?: boolean }) {
    return readHost(this.table, host, opts);
  }
  async readHostStates(hosts: readonly string[]) {
    const items = await this.table.batchGet(
      hosts.map((h) => keys.hostState(h)),
      { consistent: false },
    );
    const out = new Map<string, { host: HostState } | { problem: Problem }>();
    for (const hostName of hosts) {
      const k = keys.hostState(hostName);
      const item = items.get(`${k.pk}|${k.sk}`);
      if (item !== undefined) out.set(hostName, parseHostState(item, hostName));
    }
    return out;
  }
  async readGuards(refs: readonly GuardRef[]) {
    const out = new Map<string, GuardRead | null>();
    if (refs.length === 0) return out;
    const found = await this.table.batchGet(refs.map(guardKey), { consistent: true });
    for (const ref of refs) {
      const k = guardKey(ref);
      const item = found.get(`${k.pk}|${k.sk}`);
      out.set(guardId(ref), item === undefined ? null : parseGuard(item, ref.structure));
    }
    return out;
  }
  listApplications() {
    return this.table.listKind(GSI1_KINDS.apps);
  }
  readApplication(name: string) {
    return readApplication(this.table, name);
  }
  writeGuard(ref: GuardRef, state: GuardState, expectedVersion: number | null) {
    return writeGuard(this.table, guardKey(ref), state, expectedVersion);
  }
  async readGuard(ref: GuardRef) {
    const item = await this.table.get(guardKey(ref));
    return item === null ? null : parseGuard(item, ref.structure);
  }
  recordActivity(lines: readonly ActivityLine[]) {
    return writeActivity(this.table, lines);
  }
  takeLease(owner: string, now: number, expiresAt: number) {
    return takeLease(this.table, owner, now, expiresAt);
  }
  releaseLease(owner: string) {
    return releaseLease(this.table, owner);
  }
  takeChainLease(
    msg: { chain: string; at: number; gen?: number | undefined; shard?: number | undefined },
    proc: string,
    now: number,
    windowMs: number,
    containers?: number,
  ) {
    return takeChainLease(this.table, msg, proc, now, windowMs, containers);
  }
  async leaseExpiresAt() {
    const lease = await this.table.get(keys.lease(LEASE_NAME));
    return lease !== null && typeof lease.expiresAt === 'number' ? lease.expiresAt : null;
  }
  readShards() {
    return readShards(this.table);
  }
  writeShards(next: ShardRecord, expectedVersion: number) {
    return writeShards(this.table, next, expectedVersion);
  }
  shardLeases(gen: ShardGeneration) {
    return shardLeases(this.table, gen);
  }
  readCarries(chains: readonly ShardRef[]) {
    return readCarries(this.table, chains);
  }
  writeCarry(chain: ShardRef, carry: ChainCarry) {
    return writeCarry(this.table, chain, carry);
  }
  /** The hosts of `containers` from their locator items (unknown ones absent). */
  async locateContainers(containers: readonly string[]) {
    const found = await this.table.batchGet(
      containers.map((c) => keys.containerLocator(c)),
      { consistent: false },
    );
    const out = new Map<string, string>();
    for (const c of containers) {
      const k = keys.containerLocator(c);
      const host = found.get(`${k.pk}|${k.sk}`)?.host;
      if (typeof host === 'string') out.set(c, host);
    }
    return out;
  }
}
