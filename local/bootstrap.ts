/**
 * One idempotent bootstrap for every environment (emulators, LocalStack, AWS):
 * create the state table and wait until it is active, enable its TTL (activity
 * lines expire) where the emulator supports it, load the default rules and
 * every service's default config without touching what an operator already
 * changed, load optional rule/config files (validated in full before anything is
 * written), and re-create the order queues of hosts already registered.
 * Running it twice leaves the same state, versions included.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { Catalog, resolveServiceConfig } from '../adapters/dynamodb/catalog.ts';
import { TIME_TO_LIVE, tableDefinition } from '../adapters/dynamodb/table.ts';
import { TableClient } from '../adapters/dynamodb/table-client.ts';
import { ensureHostQueues } from '../adapters/sqs/order-queues.ts';
import { Rule } from '../core/contracts/rule.ts';
import { defaultConfig, SERVICE_CONFIGS, type ServiceName } from '../core/contracts/service-config.ts';
import { GSI1_KINDS, keys } from '../core/contracts/table-layout.ts';
import { parseOrThrow, StaleStateError, ValidationError } from '../core/errors.ts';
import { DEFAULT_RULES } from '../core/policy/default-rules.ts';
import { checkRule } from '../core/policy/rule-check.ts';

/** Settings of the platform read from the environment (shared by every deployable). */
export { PlatformEnv } from '../adapters/platform-env.ts';

/** A rules file: an array of rules. */
export const RulesFile = z.array(Rule);
/** A config file: `{ "<service>": { <settings> } }`; settings omitted take their defaults. */
export const ConfigFile = z.partialRecord(
  z.enum(Object.keys(SERVICE_CONFIGS) as [ServiceName, ...ServiceName[]]),
  z.record(z.string(), z.unknown()),
);

export interface BootstrapDeps {
  dynamo: DynamoDBDocumentClient;
  /** When given, order queues of already registered hosts are (re)created. */
  sqs?: SQSClient;
  log?: (line: string) => void;
}

export interface BootstrapOptions {
  tableName: string;
  queuePrefix?: string;
  /** Rules to store, replacing stored rules of the same name (parsed like a rules file). */
  rules?: unknown;
  /** Service configs to store, replacing the stored ones (parsed like a config file). */
  configs?: unknown;
  /** How long to wait for the table to become active. */
  tableTimeoutMs?: number;
}

export interface BootstrapReport {
  tableCreated: boolean;
  /** The table's TTL on `expiresAtS`: turned on now, already on, or not offered by this emulator (dynalite). */
  timeToLive: TimeToLiveOutcome;
  /** Names written in this run. */
  rulesWritten: string[];
  /** Default or given rules left as they were (already stored, or equal). */
  rulesKept: string[];
  servicesWritten: ServiceName[];
  servicesKept: ServiceName[];
  hostQueues: string[];
}

/** Validate everything that will be written before writing anything. */
function validateInputs(opts: BootstrapOptions): {
  rules: Rule[];
  configs: [ServiceName, Record<string, unknown>][];
} {
  const rules = opts.rules === undefined ? [] : parseOrThrow(RulesFile, opts.rules, 'rules');
  const seen = new Set<string>();
  rules.forEach((r, i) => {
    if (seen.has(r.name))
      throw new ValidationError('rules', [{ path: `[${i}].name`, message: `duplicate rule name ${r.name}` }]);
    seen.add(r.name);
  });
  const file = opts.configs === undefined ? {} : parseOrThrow(ConfigFile, opts.configs, 'config');
  const configs = Object.entries(file) as [ServiceName, Record<string, unknown>][];
  for (const [service, settings] of configs) resolveServiceConfig(service, settings);
  return { rules, configs };
}

/**
 * The Guardian's load-time rule check, as the API runs it before it stores a rule or a Guardian
 * config: every given rule, and every active rule in force after this run (given, else stored, else
 * default), must be able to fire under the Guardian config in force (given, else stored, else the
 * defaults). A refusal names the rules-file entry or the guardian setting to blame.
 */
export function checkRulesInForce(
  given: { rules: readonly Rule[]; guardian: Record<string, unknown> | undefined },
  stored: { rules: readonly Rule[]; guardian: Record<string, unknown> | null },
): void {
  const config = resolveServiceConfig('guardian', given.guardian ?? stored.guardian ?? {});
  given.rules.forEach((rule, i) => {
    const out = checkRule(rule, config);
    if (!out.ok) throw new ValidationError('rules', [{ path: `[${i}].${out.field}`, message: out.message }]);
  });
  if (given.guardian === undefined) return;
  const givenNames = new Set(given.rules.map((r) => r.name));
  const kept = stored.rules.filter((r) => !givenNames.has(r.name));
  const keptNames = new Set(kept.map((r) => r.name));
  const others = [...kept, ...DEFAULT_RULES.filter((r) => !givenNames.has(r.name) && !keptNames.has(r.name))];
  for (const rule of others.filter((r) => r.active)) {
    const out = checkRule(rule, config);
    if (!out.ok)
      throw new ValidationError('config', [
        {
          path: `guardian.${Object.keys(given.guardian)[0] ?? ''}`,
          message: `would break active rule ${rule.name} (${out.field}: ${out.message})`,
        },
      ]);
  }
}

/** Rules and the Guardian config as stored (unreadable items count as absent: bootstrap does not repair them). */
async function storedForCheck(
  catalog: Catalog,
): Promise<{ rules: Rule[]; guardian: Record<string, unknown> | null }> {
  const items = await catalog.table.queryPartition(keys.rulesPartition);
  const rules = items.flatMap((item) => {
    const { pk: _pk, sk: _sk, gsi1pk: _g1, gsi1sk: _g2, version: _v, ...fields } = item;
    const parsed = Rule.safeParse(fields);
    return parsed.success ? [parsed.data] : [];
  });
  const guardian = await catalog.getService('guardian').catch(() => null);
  return { rules, guardian: guardian?.config ?? null };
}

export async function ensureTable(
  dynamo: DynamoDBDocumentClient,
  tableName: string,
  timeoutMs = 60_000,
): Promise<boolean> {
  let created = false;
  try {
    await dynamo.send(new CreateTableCommand(tableDefinition(tableName)));
    created = true;
  } catch (err) {
    if (!(err instanceof Error && err.name === 'ResourceInUseException')) throw err;
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE');
    if (Table?.TableStatus === 'ACTIVE' && indexesActive) return created;
    if (Date.now() > deadline)
      throw new Error(`table ${tableName} not active after ${timeoutMs} ms (status ${Table?.TableStatus})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export type TimeToLiveOutcome = 'enabled' | 'already-enabled' | 'unsupported';

/**
 * Turn on the table's TTL (TIME_TO_LIVE), idempotently: DynamoDB refuses to
 * enable it twice, so the current setting is read first. dynalite has no
 * UpdateTimeToLive ('unsupported': its lines are never deleted, readers skip
 * expired ones anyway); DynamoDB Local and LocalStack accept it. A TTL on
 * another attribute is an error naming both: changing it needs an operator.
 */
export async function ensureTimeToLive(
  dynamo: DynamoDBDocumentClient,
  tableName: string,
): Promise<TimeToLiveOutcome> {
  const { TimeToLiveDescription: now } = await dynamo.send(
    new DescribeTimeToLiveCommand({ TableName: tableName }),
  );
  const status = now?.TimeToLiveStatus;
  if (status === 'ENABLED' || status === 'ENABLING') {
    if (now?.AttributeName === TIME_TO_LIVE.AttributeName) return 'already-enabled';
    throw new ValidationError('table', [
      {
        path: 'TimeToLiveSpecification.AttributeName',
        message: `table ${tableName} has TTL on ${now?.AttributeName}, expected ${TIME_TO_LIVE.AttributeName}`,
      },
    ]);
  }
  try {
    await dynamo.send(
      new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { ...TIME_TO_LIVE } }),
    );
    return 'enabled';
  } catch (err) {
    const name = err instanceof Error ? err.name : '';
    if (name === 'UnknownOperationException') return 'unsupported';
    // another bootstrap enabled it between our read and our update
    if (name === 'ValidationException' && /already enabled/i.test((err as Error).message))
      return 'already-enabled';
    throw err;
  }
}

/** Write unless already stored; a stored item (changed or not) wins. */
async function createIfAbsent(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (err) {
    if (err instanceof StaleStateError) return false;
    throw err;
  }
}

export async function bootstrap(deps: BootstrapDeps, opts: BootstrapOptions): Promise<BootstrapReport> {
  const log = deps.log ?? (() => undefined);
  const given = validateInputs(opts);
  const tableCreated = await ensureTable(deps.dynamo, opts.tableName, opts.tableTimeoutMs);
  const report: BootstrapReport = {
    tableCreated,
    timeToLive: await ensureTimeToLive(deps.dynamo, opts.tableName),
    rulesWritten: [],
    rulesKept: [],
    servicesWritten: [],
    servicesKept: [],
    hostQueues: [],
  };
  log(`table ${opts.tableName} ${report.tableCreated ? 'created' : 'exists'}`);
  log(`table TTL on activity lines: ${report.timeToLive}`);
  const catalog = new Catalog(new TableClient(deps.dynamo, opts.tableName));

  // One query per partition tells what is stored already; only what is missing is written.
  const storedNames = async (pk: string) =>
    new Set((await catalog.table.queryPartition(pk)).map((item) => String(item.sk)));
  const storedRules = await storedNames(keys.rulesPartition);
  const storedServices = await storedNames(keys.servicesPartition);
  if (given.rules.length > 0 || given.configs.some(([s]) => s === 'guardian'))
    checkRulesInForce(
      { rules: given.rules, guardian: given.configs.find(([s]) => s === 'guardian')?.[1] },
      await storedForCheck(catalog),
    );

  const givenRuleNames = new Set(given.rules.map((r) => r.name));
  // Default rules are independent items: create the missing ones concurrently.
  const defaults = DEFAULT_RULES.filter((rule) => !givenRuleNames.has(rule.name));
  const created = await Promise.all(
    defaults.map(
      (rule) =>
        !storedRules.has(rule.name) && createIfAbsent(() => catalog.putRule(rule, { expectedVersion: null })),
    ),
  );
  defaults.forEach((rule, i) => {
    (created[i] ? report.rulesWritten : report.rulesKept).push(rule.name);
  });
  for (const rule of given.rules) {
    const stored = await catalog.getRule(rule.name);
    if (stored !== null && isDeepStrictEqual(stored.rule, rule)) {
      report.rulesKept.push(rule.name);
      continue;
    }
    await catalog.putRule(rule, { expectedVersion: stored?.version ?? null });
    report.rulesWritten.push(rule.name);
  }

  const givenConfigs = new Map(given.configs);
  for (const service of Object.keys(SERVICE_CONFIGS) as ServiceName[]) {
    const settings = givenConfigs.get(service);
    if (settings === undefined) {
      const wrote =
        !storedServices.has(service) &&
        (await createIfAbsent(() =>
          catalog.putServiceConfig(service, defaultConfig(service), { expectedVersion: null }),
        ));
      (wrote ? report.servicesWritten : report.servicesKept).push(service);
      continue;
    }
    const stored = await catalog.getService(service);
    if (stored !== null && isDeepStrictEqual(stored.config, settings)) {
      report.servicesKept.push(service);
      continue;
    }
    await catalog.putServiceConfig(service, settings, { expectedVersion: stored?.version ?? null });
    report.servicesWritten.push(service);
  }
  log(
    `rules: ${report.rulesWritten.length} written, ${report.rulesKept.length} kept; ` +
      `services: ${report.servicesWritten.length} written, ${report.servicesKept.length} kept`,
  );

  if (deps.sqs !== undefined) {
    const hosts = await catalog.table.listKind(GSI1_KINDS.hosts);
    for (const host of hosts) {
      await ensureHostQueues(
        deps.sqs,
        host,
        opts.queuePrefix === undefined ? {} : { prefix: opts.queuePrefix },
      );
      report.hostQueues.push(host);
    }
    if (hosts.length > 0) log(`order queues ensured for ${hosts.length} host(s)`);
  }
  return report;
}
