/**
 * The API's access to versioned state items: read and parse, create only if
 * absent, read-modify-write on `version` (retried on a lost race unless the
 * caller pinned a version with If-Match), delete on version.
 */

import type { TableClient } from '../../adapters/dynamodb/table-client.ts';
import {
  type Application,
  GuardState as GuardSchema,
  type GuardState,
  type HostState,
  type User,
} from '../../core/contracts/index.ts';
import type { Key } from '../../core/contracts/items.ts';
import {
  applicationGuardItem,
  applicationItem,
  body,
  containerGuardItem,
  hostStateItem,
  type ItemCodec,
  userItem,
} from '../../core/contracts/items.ts';
import { keys } from '../../core/contracts/table-layout.ts';
import { ConflictError, NotFoundError, StaleStateError } from '../../core/errors.ts';

const RETRIES = 8;

/** The item without its key attributes (items.ts `body`). */
export const stripKeys = body;

export class VersionedDocs<I, T extends { version: number }> {
  readonly table: TableClient;
  readonly codec: ItemCodec<T, I>;
  readonly what: (id: I) => string;

  constructor(table: TableClient, codec: ItemCodec<T, I>, what: (id: I) => string) {
    this.table = table;
    this.codec = codec;
    this.what = what;
  }

  private primary(id: I): Key {
    const { pk, sk } = this.codec.key(id);
    return { pk, sk };
  }

  async get(id: I): Promise<T | null> {
    const item = await this.table.get(this.primary(id));
    if (item === null) return null;
    const parsed = this.codec.safeFromItem(item);
    // A stored item that fails its contract is a server fault, not bad input.
    if (!parsed.success) throw parsed.error;
    return parsed.data;
  }

  async require(id: I): Promise<T> {
    const doc = await this.get(id);
    if (doc === null) throw new NotFoundError(`${this.what(id)} not found`);
    return doc;
  }

  /** The doc, which must be at version `ifMatch` when one is given (StaleStateError → 409 otherwise). */
  async requireAt(id: I, ifMatch: number | null): Promise<T> {
    const doc = await this.require(id);
    if (ifMatch !== null && doc.version !== ifMatch)
      throw new StaleStateError(`${this.what(id)} is at version ${doc.version}, not ${ifMatch}`, doc);
    return doc;
  }

  /** The docs of these ids that exist, in order. */
  async getMany(ids: readonly I[]): Promise<T[]> {
    return (await Promise.all(ids.map((id) => this.get(id)))).filter((d) => d !== null);
  }

  /** Create at version 1; a doc that exists already raises StaleStateError. */
  async create(id: I, doc: T): Promise<T> {
    const item = this.codec.toItem(id, { ...doc, version: 1 });
    await this.table.putVersioned(item, null, this.what(id));
    return body(item) as T;
  }

  /** Create at version 1 for a PUT that found nothing; one created meanwhile is a ConflictError (409). */
  async createOrConflict(id: I, doc: T): Promise<T> {
    try {
      return await this.create(id, doc);
    } catch (err) {
      if (!(err instanceof StaleStateError)) throw err;
      throw new ConflictError(`${this.what(id)} was created concurrently`, { cause: err });
    }
  }

  async put(id: I, doc: T, expectedVersion: number): Promise<T> {
    const item = this.codec.toItem(id, { ...doc, version: expectedVersion + 1 });
    await this.table.putVersioned(item, expectedVersion, this.what(id));
    return body(item) as T;
  }

  /**
   * Apply `change` to the current doc and write it on its version. `change`
   * may throw (validation against the current state) — nothing is written.
   * Returning a doc equal to the current one writes nothing (idempotent PUT).
   * With `ifMatch`, the doc must be at that version, and a lost race is a 409.
   */
  async update(id: I, change: (current: T) => T | Promise<T>, ifMatch: number | null = null): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.requireAt(id, ifMatch);
      const next = await change(structuredClone(current));
      if (sameDoc(next, current)) return current;
      try {
        return await this.put(id, next, current.version);
      } catch (err) {
        if (!(err instanceof StaleStateError) || ifMatch !== null || attempt >= RETRIES) throw err;
      }
    }
  }

  async remove(id: I, expectedVersion: number): Promise<void> {
    await this.table.deleteVersioned(this.primary(id), expectedVersion, this.what(id));
  }
}

/** A PUT with If-Match on an item that does not exist: it has no version to match (409), so nothing is created. */
export function notAt(what: string, ifMatch: number): StaleStateError {
  return new StaleStateError(`${what} does not exist, so it is not at version ${ifMatch}`, null);
}

export function sameDoc(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, value: unknown) =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(
          Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : value,
  );
}

export interface Locator {
  host: string;
}

/** All the state items the API touches, over one table. */
export class ApiStore {
  readonly table: TableClient;
  readonly hosts: VersionedDocs<string, HostState>;
  readonly apps: VersionedDocs<string, Application>;
  readonly users: VersionedDocs<string, User>;
  readonly containerGuards: VersionedDocs<{ host: string; container: string }, GuardState>;
  readonly appGuards: VersionedDocs<string, GuardState>;

  constructor(table: TableClient) {
    this.table = table;
    this.hosts = new VersionedDocs(table, hostStateItem, (h) => `host ${h}`);
    this.apps = new VersionedDocs(table, applicationItem, (a) => `application ${a}`);
    this.users = new VersionedDocs(table, userItem, (u) => `user ${u}`);
    this.containerGuards = new VersionedDocs(
      table,
      containerGuardItem,
      ({ container }) => `limits of container ${container}`,
    );
    this.appGuards = new VersionedDocs(table, applicationGuardItem, (a) => `limits of application ${a}`);
  }

  async locate(container: string): Promise<Locator | null> {
    const { pk, sk } = keys.containerLocator(container);
    const item = await this.table.get({ pk, sk });
    return item === null ? null : { host: String(item.host) };
  }

  async requireLocation(container: string): Promise<Locator> {
    const loc = await this.locate(container);
    if (loc === null) throw new NotFoundError(`container ${container} not found`);
    return loc;
  }

  /** Claim a container name for a host; StaleStateError if it is claimed already. */
  async claimLocator(container: string, host: string): Promise<void> {
    await this.table.putIf(
      { ...keys.containerLocator(container), host },
      { expression: 'attribute_not_exists(pk)' },
      `container ${container}`,
    );
  }

  async dropLocator(container: string): Promise<void> {
    const { pk, sk } = keys.containerLocator(container);
    await this.table.deleteVersioned({ pk, sk }, null, `container ${container}`);
  }

  async listNames(kind: string): Promise<string[]> {
    return (await this.table.listKind(kind)).sort();
  }
}

/** A fresh Guardian state for a structure (defaults from the contract: no events, no decision yet). */
export function newGuardState(
  structure: string,
  structureType: GuardState['structureType'],
  limits: GuardState['limits'],
): GuardState {
  return GuardSchema.parse({ structure, structureType, version: 1, limits });
}
