/**
 * The agent's state-table calls over DynamoDB's JSON 1.0 protocol (GetItem, Query, PutItem),
 * with the same behaviour as adapters/dynamodb/table-client.ts for what the agent uses:
 * consistent reads, all pages of a partition, puts whose failed condition becomes
 * StaleStateError carrying the item as it is now.
 */

import type { Item, Key } from '../../core/contracts/items.ts';
import { fromStored, toStored } from '../../core/contracts/items.ts';
import { StaleStateError } from '../../core/errors.ts';
import { JsonRpcClient } from './json-rpc.ts';
import { type LiteClientOptions, rpcOptions } from './sqs.ts';

/** The table operations the agent's state store uses (TableClient has them too). */
export interface AgentTable {
  /** Strongly consistent unless `consistent: false` (half the read units, may lag a recent write). */
  get(key: Key, opts?: { consistent?: boolean }): Promise<Item | null>;
  queryPartition(pk: string, opts?: { skPrefix?: string; consistent?: boolean }): Promise<Item[]>;
  put(item: Item & Key): Promise<void>;
  putVersioned(item: Item & Key, expectedVersion: number | null, what: string): Promise<void>;
  putIf(
    item: Item & Key,
    condition: { expression: string; names?: Record<string, string>; values?: Record<string, unknown> },
    what: string,
  ): Promise<void>;
}

export type AttributeValue =
  | { S: string }
  | { N: string }
  | { BOOL: boolean }
  | { NULL: true }
  | { L: AttributeValue[] }
  | { M: Record<string, AttributeValue> }
  | { SS: string[] }
  | { NS: string[] }
  | { B: string };

/** JS → DynamoDB JSON; undefined members and elements are dropped (like removeUndefinedValues). */
export function marshall(value: unknown, path = ''): AttributeValue {
  if (value === null) return { NULL: true };
  switch (typeof value) {
    case 'string':
      return { S: value };
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${path || 'value'}: ${value} cannot be stored`);
      return { N: String(value) };
    case 'boolean':
      return { BOOL: value };
    case 'object': {
      if (value instanceof Uint8Array) return { B: Buffer.from(value).toString('base64') };
      if (Array.isArray(value))
        return { L: value.filter((v) => v !== undefined).map((v, i) => marshall(v, `${path}[${i}]`)) };
      if (value instanceof Set) {
        const vals = [...value];
        if (vals.every((v) => typeof v === 'string')) return { SS: vals };
        if (vals.every((v) => typeof v === 'number')) return { NS: vals.map(String) };
        throw new TypeError(`${path || 'value'}: a set must hold only strings or only numbers`);
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null)
        throw new TypeError(`${path || 'value'}: only plain objects can be stored`);
      return { M: marshallItem(value as Record<string, unknown>, path) };
    }
    default:
      throw new TypeError(`${path || 'value'}: a ${typeof value} cannot be stored`);
  }
}

export function marshallItem(item: Record<string, unknown>, path = ''): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [k, v] of Object.entries(item))
    if (v !== undefined) out[k] = marshall(v, path ? `${path}.${k}` : k);
  return out;
}

export function unmarshall(av: AttributeValue): unknown {
  if ('S' in av) return av.S;
  if ('N' in av) return Number(av.N);
  if ('BOOL' in av) return av.BOOL;
  if ('NULL' in av) return null;
  if ('L' in av) return av.L.map(unmarshall);
  if ('M' in av) return unmarshallItem(av.M);
  if ('SS' in av) return new Set(av.SS);
  if ('NS' in av) return new Set(av.NS.map(Number));
  if ('B' in av) return Buffer.from(av.B, 'base64');
  throw new TypeError(`unsupported attribute type ${Object.keys(av).join(',')}`);
}

export function unmarshallItem(item: Record<string, AttributeValue>): Item {
  const out: Item = {};
  for (const [k, v] of Object.entries(item)) out[k] = unmarshall(v);
  return out;
}

/**
 * The agent's DynamoDB client. Like TableClient, it stores and reads items in the shared
 * layout (core/contracts/items.ts: a HostState is packed into one `doc` attribute).
 */
export class LiteTable implements AgentTable {
  readonly tableName: string;
  /** Requests made and capacity units they consumed (DynamoDB returns them: ReturnConsumedCapacity). */
  readonly counters = { reads: 0, writes: 0, readUnits: 0, writeUnits: 0 };
  private readonly rpc: JsonRpcClient;

  /** HTTP bytes sent and received (what a host outside AWS exchanges with the service). */
  get httpBytes(): { readonly sent: number; readonly received: number } {
    return this.rpc.bytes;
  }

  constructor(tableName: string, opts: LiteClientOptions = {}, env: NodeJS.ProcessEnv = process.env) {
    this.tableName = tableName;
    this.rpc = new JsonRpcClient(rpcOptions('DYNAMODB', 'dynamodb', 'DynamoDB_20120810', opts, env));
  }

  async get(key: Key, opts: { consistent?: boolean } = {}): Promise<Item | null> {
    const out = await this.rpc.call<{ Item?: Record<string, AttributeValue> } & Consumed>('GetItem', {
      TableName: this.tableName,
      Key: marshallItem({ pk: key.pk, sk: key.sk }),
      ConsistentRead: opts.consistent ?? true,
      ReturnConsumedCapacity: 'TOTAL',
    });
    this.counted('read', out);
    return out.Item === undefined ? null : fromStored(unmarshallItem(out.Item));
  }

  async queryPartition(pk: string, opts: { skPrefix?: string; consistent?: boolean } = {}): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const out: {
        Items?: Record<string, AttributeValue>[];
        LastEvaluatedKey?: Record<string, AttributeValue>;
      } & Consumed = await this.rpc.call('Query', {
        TableName: this.tableName,
        KeyConditionExpression: opts.skPrefix === undefined ? 'pk = :pk' : 'pk = :pk AND begins_with(sk, :p)',
        ExpressionAttributeValues: marshallItem(
          opts.skPrefix === undefined ? { ':pk': pk } : { ':pk': pk, ':p': opts.skPrefix },
        ),
        ConsistentRead: opts.consistent ?? true,
        ReturnConsumedCapacity: 'TOTAL',
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      });
      this.counted('read', out);
      for (const i of out.Items ?? []) items.push(fromStored(unmarshallItem(i)));
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  }

  async put(item: Item & Key): Promise<void> {
    this.counted(
      'write',
      await this.rpc.call<Consumed>('PutItem', {
        TableName: this.tableName,
        Item: marshallItem(toStored(item)),
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
  }

  async putVersioned(item: Item & Key, expectedVersion: number | null, what: string): Promise<void> {
    await this.putIf(
      item,
      expectedVersion === null
        ? { expression: 'attribute_not_exists(pk)' }
        : {
            expression: '#v = :expected',
            names: { '#v': 'version' },
            values: { ':expected': expectedVersion },
          },
      what,
    );
  }

  async putIf(
    item: Item & Key,
    condition: { expression: string; names?: Record<string, string>; values?: Record<string, unknown> },
    what: string,
  ): Promise<void> {
    try {
      const out = await this.rpc.call<Consumed>('PutItem', {
        TableName: this.tableName,
        Item: marshallItem(toStored(item)),
        ConditionExpression: condition.expression,
        ...(condition.names === undefined ? {} : { ExpressionAttributeNames: condition.names }),
        ...(condition.values === undefined
          ? {}
          : { ExpressionAttributeValues: marshallItem(condition.values) }),
        ReturnConsumedCapacity: 'TOTAL',
      });
      this.counted('write', out);
    } catch (err) {
      // A failed condition is billed as a write too (1 WRU at least).
      this.counters.writes += 1;
      if (err instanceof Error && err.name === 'ConditionalCheckFailedException') {
        const current = await this.get({ pk: item.pk, sk: item.sk });
        throw new StaleStateError(`${what} changed concurrently`, current, {
          cause: err,
          context: { pk: item.pk, sk: item.sk },
        });
      }
      throw err;
    }
  }

  private counted(kind: 'read' | 'write', out: Consumed): void {
    const units = out.ConsumedCapacity?.CapacityUnits ?? 0;
    if (kind === 'read') {
      this.counters.reads += 1;
      this.counters.readUnits += units;
    } else {
      this.counters.writes += 1;
      this.counters.writeUnits += units;
    }
  }

  destroy(): void {
    this.rpc.destroy();
  }
}

/** What ReturnConsumedCapacity: 'TOTAL' adds to an answer. */
interface Consumed {
  ConsumedCapacity?: { CapacityUnits?: number };
}
