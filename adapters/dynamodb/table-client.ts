/**
 * Thin typed access to the state table, shared by every store adapter:
 * consistent reads, paginated queries, and versioned conditional writes whose
 * lost races become StaleStateError carrying the item as it is now. Items
 * pass through the stored layout of items.ts (toStored on write, fromStored
 * on read), so callers always see logical items.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { fromStored, type Item, type Key, toStored } from '../../core/contracts/items.ts';
import { DEFAULT_ACTIVITY_RETENTION_DAYS, GSI1 } from '../../core/contracts/table-layout.ts';
import { StaleStateError } from '../../core/errors.ts';
import { mapLimit } from '../../core/map-limit.ts';

/** Counts of requests made, for the benchmarks' per-tick figures. */
export interface TableCounters {
  reads: number;
  writes: number;
  readUnits: number;
  writeUnits: number;
}

/** Keys per BatchGetItem request (DynamoDB's limit). */
export const BATCH_GET_MAX = 100;

export class TableClient {
  readonly counters: TableCounters = { reads: 0, writes: 0, readUnits: 0, writeUnits: 0 };

  readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Days an activity line written through this table is kept (its TTL: `at` + this). */
  readonly activityRetentionDays: number;

  constructor(
    doc: DynamoDBDocumentClient,
    tableName: string,
    opts: { activityRetentionDays?: number | undefined } = {},
  ) {
    this.doc = doc;
    this.tableName = tableName;
    this.activityRetentionDays = opts.activityRetentionDays ?? DEFAULT_ACTIVITY_RETENTION_DAYS;
  }

  resetCounters(): void {
    Object.assign(this.counters, { reads: 0, writes: 0, readUnits: 0, writeUnits: 0 });
  }

  /** Strongly consistent unless `consistent: false` (half the read units, may lag a recent write). */
  async get(key: Key, opts: { consistent?: boolean } = {}): Promise<Item | null> {
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: key,
        ConsistentRead: opts.consistent ?? true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.counters.reads += 1;
    this.counters.readUnits += out.ConsumedCapacity?.CapacityUnits ?? 0;
    return out.Item === undefined ? null : fromStored(out.Item as Item);
  }

  /**
   * Every item of a partition, all pages; optionally only those whose sort key begins with
   * `skPrefix`, sorts at or after `skFrom`, or lies in `skBetween` (inclusive) — one of them at
   * most (a Query is billed for the items it reads: a narrower range reads fewer units).
   */
  async queryPartition(
    pk: string,
    opts: {
      skPrefix?: string;
      skFrom?: string;
      skBetween?: readonly [string, string];
      consistent?: boolean;
    } = {},
  ): Promise<Item[]> {
    const ranges = [opts.skPrefix, opts.skFrom, opts.skBetween].filter((r) => r !== undefined);
    if (ranges.length > 1)
      throw new RangeError('queryPartition: skPrefix, skFrom and skBetween exclude each other');
    const values: Record<string, string> = { ':pk': pk };
    let condition = 'pk = :pk';
    if (opts.skPrefix !== undefined) {
      condition += ' AND begins_with(sk, :p)';
      values[':p'] = opts.skPrefix;
    } else if (opts.skFrom !== undefined) {
      condition += ' AND sk >= :from';
      values[':from'] = opts.skFrom;
    } else if (opts.skBetween !== undefined) {
      condition += ' AND sk BETWEEN :lo AND :hi';
      values[':lo'] = opts.skBetween[0];
      values[':hi'] = opts.skBetween[1];
    }
    const input: QueryCommandInput = {
      TableName: this.tableName,
      KeyConditionExpression: condition,
      ExpressionAttributeValues: values,
      ConsistentRead: opts.consistent ?? true,
      ReturnConsumedCapacity: 'TOTAL',
    };
    return this.queryAll(input);
  }

  /**
   * A partition's items page by page, newest (highest sort key) first, optionally within
   * `skBetween`: the caller stops when it has enough, so only what it reads is billed.
   */
  async *queryNewestFirst(
    pk: string,
    opts: { skBetween?: readonly [string, string]; pageSize?: number; consistent?: boolean } = {},
  ): AsyncGenerator<Item[]> {
    const values: Record<string, string> = { ':pk': pk };
    let condition = 'pk = :pk';
    if (opts.skBetween !== undefined) {
      condition += ' AND sk BETWEEN :lo AND :hi';
      values[':lo'] = opts.skBetween[0];
      values[':hi'] = opts.skBetween[1];
    }
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: condition,
          ExpressionAttributeValues: values,
          ConsistentRead: opts.consistent ?? true,
          ScanIndexForward: false,
          Limit: opts.pageSize ?? 50,
          ExclusiveStartKey: start,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.counters.reads += 1;
      this.counters.readUnits += out.ConsumedCapacity?.CapacityUnits ?? 0;
      yield ((out.Items as Item[] | undefined) ?? []).map(fromStored);
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
  }

  /** Names listed under a GSI1 kind (e.g. all host names), all pages. Eventually consistent. */
  async listKind(kind: string): Promise<string[]> {
    const items = await this.queryAll({
      TableName: this.tableName,
      IndexName: GSI1,
      KeyConditionExpression: 'gsi1pk = :k',
      ExpressionAttributeValues: { ':k': kind },
      ReturnConsumedCapacity: 'TOTAL',
    });
    return items.map((i) => String(i.gsi1sk));
  }

  private async queryAll(input: QueryCommandInput): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
      this.counters.reads += 1;
      this.counters.readUnits += out.ConsumedCapacity?.CapacityUnits ?? 0;
      for (const item of (out.Items as Item[] | undefined) ?? []) items.push(fromStored(item));
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  }

  /**
   * Items by key, up to 100 per BatchGetItem (DynamoDB's limit), `concurrency` requests in flight;
   * the result is keyed `pk|sk` and lacks missing items. Unprocessed keys are retried with backoff
   * (five attempts, then an error). `consistent: false` reads eventually consistent (half the units).
   */
  async batchGet(
    itemKeys: readonly Key[],
    opts: { consistent: boolean; concurrency?: number },
  ): Promise<Map<string, Item>> {
    const found = new Map<string, Item>();
    const chunks: Key[][] = [];
    for (let i = 0; i < itemKeys.length; i += BATCH_GET_MAX)
      chunks.push(itemKeys.slice(i, i + BATCH_GET_MAX).map((k) => ({ pk: k.pk, sk: k.sk })));
    await mapLimit(chunks, opts.concurrency ?? 8, async (chunk) => {
      let pending = chunk;
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt === 5)
          throw new Error(`batch get: ${pending.length} keys left unprocessed after ${attempt} attempts`);
        if (attempt > 0) await new Promise((r) => setTimeout(r, 20 * 2 ** attempt));
        const out = await this.doc.send(
          new BatchGetCommand({
            RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: opts.consistent } },
            ReturnConsumedCapacity: 'TOTAL',
          }),
        );
        this.counters.reads += 1;
        for (const c of out.ConsumedCapacity ?? []) this.counters.readUnits += c.CapacityUnits ?? 0;
        for (const stored of (out.Responses?.[this.tableName] ?? []) as Item[]) {
          const item = fromStored(stored);
          found.set(`${String(item.pk)}|${String(item.sk)}`, item);
        }
        pending = (out.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Key[];
      }
    });
    return found;
  }

  /**
   * Unconditional puts, 25 to a BatchWriteItem request (DynamoDB's limit),
   * `inFlight` requests at once; unprocessed items are retried with backoff,
   * and what is still left after 8 retries is reported by a thrown error.
   * Each item still costs its own write units (1 per started KB).
   */
  async batchPut(items: readonly (Item & Key)[], inFlight = 16): Promise<void> {
    const batches: (Item & Key)[][] = [];
    for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
    await mapLimit(batches, inFlight, async (batch) => {
      let pending: Record<string, unknown>[] = batch.map((i) => ({ PutRequest: { Item: toStored(i) } }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 8) throw new Error(`batch put: ${pending.length} items left unprocessed`);
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 25 * 2 ** attempt)));
        const out = await this.doc.send(
          new BatchWriteCommand({
            RequestItems: { [this.tableName]: pending as never },
            ReturnConsumedCapacity: 'TOTAL',
          }),
        );
        this.counters.writes += 1;
        for (const c of out.ConsumedCapacity ?? []) this.counters.writeUnits += c.CapacityUnits ?? 0;
        pending = (out.UnprocessedItems?.[this.tableName] ?? []) as Record<string, unknown>[];
      }
    });
  }

  /** Unconditional put (idempotent writes such as activity records). */
  async put(item: Item & Key): Promise<void> {
    const out = await this.doc.send(
      new PutCommand({ TableName: this.tableName, Item: toStored(item), ReturnConsumedCapacity: 'TOTAL' }),
    );
    this.counters.writes += 1;
    this.counters.writeUnits += out.ConsumedCapacity?.CapacityUnits ?? 0;
  }

  /**
   * Put `item` only if the stored item's `version` equals `expectedVersion`
   * (null: only if no item exists). The caller sets the new version in `item`.
   * A lost race throws StaleStateError with the current item.
   */
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

  /** Put under an arbitrary condition; a failed condition throws StaleStateError with the current item. */
  async putIf(
    item: Item & Key,
    condition: { expression: string; names?: Record<string, string>; values?: Record<string, unknown> },
    what: string,
  ): Promise<void> {
    try {
      const out = await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: toStored(item),
          ConditionExpression: condition.expression,
          ...(condition.names === undefined ? {} : { ExpressionAttributeNames: condition.names }),
          ...(condition.values === undefined ? {} : { ExpressionAttributeValues: condition.values }),
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.counters.writes += 1;
      this.counters.writeUnits += out.ConsumedCapacity?.CapacityUnits ?? 0;
    } catch (err) {
      this.counters.writes += 1;
      if (isConditionFailure(err)) {
        const current = await this.get({ pk: item.pk, sk: item.sk });
        throw new StaleStateError(`${what} changed concurrently`, current, {
          cause: err,
          context: { pk: item.pk, sk: item.sk },
        });
      }
      throw err;
    }
  }

  /** Delete only if the stored version matches (null: unconditionally). */
  async deleteVersioned(key: Key, expectedVersion: number | null, what: string): Promise<void> {
    await this.deleteIf(
      key,
      expectedVersion === null
        ? null
        : {
            expression: '#v = :expected',
            names: { '#v': 'version' },
            values: { ':expected': expectedVersion },
          },
      what,
    );
  }

  /** Delete under a condition (null: unconditionally); a failed condition throws StaleStateError with the current item. */
  async deleteIf(
    key: Key,
    condition: {
      expression: string;
      names?: Record<string, string>;
      values?: Record<string, unknown>;
    } | null,
    what: string,
  ): Promise<void> {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: key,
          ...(condition === null
            ? {}
            : {
                ConditionExpression: condition.expression,
                ...(condition.names === undefined ? {} : { ExpressionAttributeNames: condition.names }),
                ...(condition.values === undefined ? {} : { ExpressionAttributeValues: condition.values }),
              }),
        }),
      );
      this.counters.writes += 1;
    } catch (err) {
      this.counters.writes += 1;
      if (isConditionFailure(err)) {
        throw new StaleStateError(`${what} changed concurrently`, await this.get(key), { cause: err });
      }
      throw err;
    }
  }
}

export function isConditionFailure(err: unknown): boolean {
  return (
    err instanceof ConditionalCheckFailedException ||
    (err instanceof Error && err.name === 'ConditionalCheckFailedException')
  );
}
