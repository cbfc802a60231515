/**
 * The Guardian's reads and writes of the state table: config and rules (hot
 * reloaded every tick, eventually consistent), host partitions (host state + GUARD# items),
 * applications, guard-state writes (versioned). Activity lines: adapters/dynamodb/activity.ts.
 */

import type { TableClient } from '../../adapters/dynamodb/table-client.ts';
import { GuardState } from '../../core/contracts/guard-state.ts';
import { HostState } from '../../core/contracts/host.ts';
import type { Item } from '../../core/contracts/items.ts';
import type { Rule } from '../../core/contracts/rule.ts';
import { GuardianConfig, ServiceDoc } from '../../core/contracts/service-config.ts';
import { Application } from '../../core/contracts/structure.ts';
import { keys } from '../../core/contracts/table-layout.ts';
import { checkRule } from '../../core/policy/rule-check.ts';

export interface Problem {
  what: string;
  field: string;
  message: string;
}

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

/** Every stored rule checked against the config; refused ones are problems, never silently dropped. */
export async function loadRules(
  table: TableClient,
  config: GuardianConfig,
): Promise<{ rules: Rule[]; problems: Problem[] }> {
  const items = await table.queryPartition(keys.rulesPartition, HOT_RELOAD);
  const rules: Rule[] = [];
  const problems: Problem[] = [];
  for (const item of items) {
    const candidate: Record<string, unknown> = {};
    for (const f of RULE_FIELDS) if (item[f] !== undefined) candidate[f] = item[f];
    const checked = checkRule(candidate, config);
    if (checked.ok) rules.push(checked.rule);
    else problems.push({ what: `rule ${String(item.sk)}`, field: checked.field, message: checked.message });
  }
  return { rules, problems };
}

export interface HostRead {
  host: HostState | null;
  /** GUARD# items by container: parsed state, or the problem that made it unusable. */
  guards: Map<string, { state: GuardState } | { problem: Problem }>;
  problems: Problem[];
}

export async function readHost(table: TableClient, host: string): Promise<HostRead> {
  const items = await table.queryPartition(keys.hostPartition(host), { consistent: true });
  const out: HostRead = { host: null, guards: new Map(), problems: [] };
  for (const item of items) {
    const sk = String(item.sk);
    if (sk === 'STATE') {
      const parsed = parseHostState(item, host);
      if ('host' in parsed) out.host = parsed.host;
      else out.problems.push(parsed.problem);
    } else if (sk.startsWith('GUARD#')) {
      const container = sk.slice('GUARD#'.length);
      out.guards.set(container, parseGuard(item, container));
    }
  }
  return out;
}

export interface AppRead {
  app: Application | null;
  guard: { state: GuardState } | { problem: Problem } | null;
  problems: Problem[];
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
