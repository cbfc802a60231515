/**
 * Rules and service configs in the state table (`RULES/<name>`, `SERVICES/<service>`).
 * Everything is validated with the contracts before it is written (bad input →
 * ValidationError naming the field, nothing written) and after it is read (a
 * hand-edited item that no longer parses is reported, not used). Writes are
 * conditional on `version`; a lost race is a StaleStateError with the item as it is.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Item } from '../../core/contracts/items.ts';
import { Rule } from '../../core/contracts/rule.ts';
import {
  defaultConfig,
  SERVICE_CONFIGS,
  type ServiceConfigOf,
  ServiceDoc,
  ServiceName,
} from '../../core/contracts/service-config.ts';
import { keys } from '../../core/contracts/table-layout.ts';
import { NotFoundError, parseOrThrow, ValidationError } from '../../core/errors.ts';
import { isConditionFailure, type TableClient } from './table-client.ts';

export interface StoredRule {
  rule: Rule;
  version: number;
}

/** `expectedVersion`: null = create only; a number = replace only that version; omitted = replace whatever is there now. */
export interface WriteOptions {
  expectedVersion?: number | null;
}

const KEY_ATTRS = ['pk', 'sk', 'gsi1pk', 'gsi1sk'] as const;

function withoutKeys(item: Item): Item {
  const out: Item = { ...item };
  for (const k of KEY_ATTRS) delete out[k];
  return out;
}

function storedRule(item: Item): StoredRule {
  const { version, ...fields } = withoutKeys(item);
  const rule = parseOrThrow(Rule, fields, `stored rule ${String(item.sk)}`);
  return { rule, version: typeof version === 'number' ? version : 0 };
}

function storedService(item: Item): ServiceDoc {
  return parseOrThrow(ServiceDoc, withoutKeys(item), `stored service ${String(item.sk)}`);
}

/** Validate a (possibly partial) config of `service` merged over its defaults; return the full config. */
export function resolveServiceConfig<S extends ServiceName>(
  service: S,
  stored: Record<string, unknown>,
): ServiceConfigOf<S> {
  const merged = { ...defaultConfig(service), ...stored };
  return parseOrThrow(SERVICE_CONFIGS[service], merged, `config ${service}`) as ServiceConfigOf<S>;
}

export class Catalog {
  readonly table: TableClient;

  constructor(table: TableClient) {
    this.table = table;
  }

  // ---- rules ----------------------------------------------------------------

  async listRules(): Promise<StoredRule[]> {
    const items = await this.table.queryPartition(keys.rulesPartition);
    // In sort-key order (byte order of the names), as the table returns them.
    return items.map(storedRule);
  }

  async getRule(name: string): Promise<StoredRule | null> {
    const item = await this.table.get(keys.rule(name));
    return item === null ? null : storedRule(item);
  }

  /** Validate and write one rule; returns its new version. */
  async putRule(input: unknown, opts: WriteOptions = {}): Promise<StoredRule> {
    const rule = parseOrThrow(Rule, input, 'rule');
    const expected =
      opts.expectedVersion === undefined
        ? ((await this.getRawVersion(keys.rule(rule.name))) ?? null)
        : opts.expectedVersion;
    const version = (expected ?? 0) + 1;
    await this.table.putVersioned(
      { ...keys.rule(rule.name), ...rule, version },
      expected,
      `rule ${rule.name}`,
    );
    return { rule, version };
  }

  async deleteRule(name: string, opts: { expectedVersion?: number } = {}): Promise<void> {
    const current = await this.table.get(keys.rule(name));
    if (current === null) throw new NotFoundError(`no rule named ${name}`, { context: { rule: name } });
    await this.table.deleteVersioned(keys.rule(name), opts.expectedVersion ?? null, `rule ${name}`);
  }

  // ---- service configs --------------------------------------------------------

  async listServices(): Promise<ServiceDoc[]> {
    const items = await this.table.queryPartition(keys.servicesPartition);
    return items.map(storedService);
  }

  /** `consistent: false`: half the read units, may miss a write made less than about a second ago. */
  async getService(service: ServiceName, opts: { consistent?: boolean } = {}): Promise<ServiceDoc | null> {
    const item = await this.table.get(keys.service(service), opts);
    return item === null ? null : storedService(item);
  }

  /**
   * Validate `config` (partial: missing settings take their defaults) and store it
   * as the service's config, keeping the heartbeat. Returns the stored document.
   */
  async putServiceConfig(service: unknown, config: unknown, opts: WriteOptions = {}): Promise<ServiceDoc> {
    const name = parseOrThrow(ServiceName, service, 'service');
    if (typeof config !== 'object' || config === null || Array.isArray(config)) {
      throw new ValidationError(`config ${name}`, [{ path: '', message: 'expected an object of settings' }]);
    }
    const stored = config as Record<string, unknown>;
    resolveServiceConfig(name, stored);
    // Creating (expected null) keeps no heartbeat: there is nothing to read first.
    const current = opts.expectedVersion === null ? null : await this.getService(name);
    const expected = opts.expectedVersion === undefined ? (current?.version ?? null) : opts.expectedVersion;
    const doc: ServiceDoc = {
      name,
      config: stored,
      heartbeat: current?.heartbeat ?? null,
      version: (expected ?? 0) + 1,
    };
    await this.table.putVersioned({ ...keys.service(name), ...doc }, expected, `service ${name}`);
    return doc;
  }

  /** The service's effective config: stored settings over the defaults, validated. */
  async loadServiceConfig<S extends ServiceName>(
    service: S,
    opts: { consistent?: boolean } = {},
  ): Promise<ServiceConfigOf<S>> {
    const doc = await this.getService(service, opts);
    return resolveServiceConfig(service, doc?.config ?? {});
  }

  /** Record that the service ran at `atMs`; does not change the config or its version. */
  async recordHeartbeat(service: ServiceName, atMs: number): Promise<void> {
    try {
      await this.table.doc.send(
        new UpdateCommand({
          TableName: this.table.tableName,
          Key: keys.service(service),
          UpdateExpression: 'SET heartbeat = :h',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':h': atMs },
        }),
      );
      this.table.counters.writes += 1;
    } catch (err) {
      if (isConditionFailure(err)) {
        throw new NotFoundError(`service ${service} is not bootstrapped`, {
          cause: err,
          context: { service },
        });
      }
      throw err;
    }
  }

  private async getRawVersion(key: { pk: string; sk: string }): Promise<number | null> {
    const item = await this.table.get(key);
    if (item === null) return null;
    return typeof item.version === 'number' ? item.version : 0;
  }
}
