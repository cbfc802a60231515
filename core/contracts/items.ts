/**
 * The one place that knows how state items are laid out in the table: typed
 * codecs (contract value ↔ item, validated with the contract's zod schema on
 * the way in and on the way out) and the physical layout of the HostState item.
 *
 * Stored layout of HostState (HOST#<host> / STATE): the key attributes
 * (pk, sk, gsi1pk, gsi1sk), `version` as a top-level number (conditional
 * writes test it) and `docz`, the whole HostState as one JSON document,
 * deflated (raw DEFLATE) into a binary attribute. One attribute is much cheaper
 * to marshal than the nested map of a 20-container host, and deflated it is
 * ≈ 8× smaller: the item every scale action rewrites costs 2 write units
 * instead of 8 (docs/cost.md). TableClient (and the agent's LiteTable) apply
 * `toStored`/`fromStored` to every item they write and read, so every reader
 * sees the logical item (key attributes + the contract's fields) whatever the
 * layout; items written in the older layouts (`doc` as a JSON string, or flat)
 * read unchanged.
 *
 * Every other item is stored flat: key attributes beside the contract's fields.
 */

import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { z } from 'zod';
import { parseOrThrow } from '../errors.ts';
import { Activity, type ActivityInput } from './activity.ts';
import { GuardState } from './guard-state.ts';
import { HostState } from './host.ts';
import { own } from './keyed.ts';
import { SCHEMA_VERSION } from './order.ts';
import { AgentHeartbeat, AgentReport } from './report.ts';
import { Application, User } from './structure.ts';
import { DEFAULT_ACTIVITY_RETENTION_DAYS, keys, TTL_ATTRIBUTE } from './table-layout.ts';

export type Item = Record<string, unknown>;
export interface Key {
  pk: string;
  sk: string;
}

export const KEY_ATTRIBUTES: readonly string[] = ['pk', 'sk', 'gsi1pk', 'gsi1sk'];
/** The attribute that held a packed document (HostState) as a JSON string (older layout, still read). */
export const DOC_ATTRIBUTE = 'doc';
/** The attribute holding a packed document (HostState), deflated JSON. */
export const DOCZ_ATTRIBUTE = 'docz';

/** The item without its key attributes: what the contract schema describes. */
export function body(item: Item): Item {
  const out: Item = {};
  for (const [k, v] of Object.entries(item)) if (!KEY_ATTRIBUTES.includes(k)) out[k] = v;
  return out;
}

function isHostStateKey(item: Item): boolean {
  return item.sk === 'STATE' && typeof item.pk === 'string' && item.pk.startsWith('HOST#');
}

/** Logical item → what is written to the table (HostState packed into `doc`). */
export function toStored<T extends Item>(item: T): T {
  if (
    !isHostStateKey(item) ||
    typeof item[DOC_ATTRIBUTE] === 'string' ||
    item[DOCZ_ATTRIBUTE] instanceof Uint8Array
  )
    return item;
  const stored: Item = {};
  const doc: Item = {};
  for (const [k, v] of Object.entries(item)) {
    if (KEY_ATTRIBUTES.includes(k) || k === 'version') stored[k] = v;
    else doc[k] = v;
  }
  stored[DOCZ_ATTRIBUTE] = deflateRawSync(JSON.stringify(doc), { level: 9 });
  return stored as T;
}

/** What the table holds → logical item (a packed HostState unpacked; flat items unchanged). */
export function fromStored<T extends Item>(item: T): T {
  const deflated = item[DOCZ_ATTRIBUTE];
  const packed =
    deflated instanceof Uint8Array ? inflateRawSync(deflated).toString('utf8') : item[DOC_ATTRIBUTE];
  if (typeof packed !== 'string' || !isHostStateKey(item)) return item;
  const out: Item = {};
  for (const k of KEY_ATTRIBUTES) if (own(item, k) !== undefined) out[k] = own(item, k);
  Object.assign(out, JSON.parse(packed) as Item);
  if (item.version !== undefined) out.version = item.version;
  return out as T;
}

/** A contract value ↔ its item. `toItem` and `fromItem` throw ValidationError naming the field. */
export interface ItemCodec<T, K> {
  readonly what: string;
  key(k: K): Key & Record<string, string>;
  toItem(k: K, value: T): Item & Key;
  fromItem(item: Item): T;
  /** For readers that collect problems instead of stopping: zod's result, never throws. */
  safeFromItem(item: Item): z.ZodSafeParseResult<T>;
}

function codec<T, K>(
  what: string,
  schema: z.ZodType<T>,
  key: (k: K) => Key & Record<string, string>,
): ItemCodec<T, K> {
  return {
    what,
    key,
    toItem: (k, value) => ({ ...(parseOrThrow(schema, value, what) as object), ...key(k) }),
    fromItem: (item) => parseOrThrow(schema, body(item), what) as T,
    safeFromItem: (item) => schema.safeParse(body(item)),
  };
}

/** HostState: HOST#<host> / STATE (packed, see above). */
export const hostStateItem = codec<HostState, string>('host state', HostState, keys.hostState);

/** A container's guard state: HOST#<host> / GUARD#<container>. */
export const containerGuardItem = codec<GuardState, { host: string; container: string }>(
  'guard state',
  GuardState,
  ({ host, container }) => keys.guard(host, container),
);

/** An application's guard state: APP#<app> / GUARD. */
export const applicationGuardItem = codec<GuardState, string>(
  'guard state',
  GuardState,
  keys.applicationGuard,
);

/** The agent's last report for a container: HOST#<host> / APPLIED#<container>. */
export const appliedItem = codec<AgentReport, Pick<AgentReport, 'host' | 'container'>>(
  'agent report',
  AgentReport,
  ({ host, container }) => keys.applied(host, container),
);

/** The agent's heartbeat: HOST#<host> / AGENT. */
export const heartbeatItem = codec<AgentHeartbeat, string>('agent heartbeat', AgentHeartbeat, keys.agent);

/** An application: APP#<app> / APP (listed under gsi1 APPS). */
export const applicationItem = codec<Application, string>('application', Application, keys.application);

/** A user: USER#<user> / USER (listed under gsi1 USERS). */
export const userItem = codec<User, string>('user', User, keys.user);

/** Shorthands keyed by the value itself, for the items whose contract carries its key. */
/** Written in the current schema version (core/contracts/order.ts SCHEMA_VERSION). */
export const hostStateToItem = (host: HostState): Item & Key =>
  hostStateItem.toItem(host.name, { ...host, schemaVersion: SCHEMA_VERSION });
export const hostStateFromItem = (item: Item): HostState => hostStateItem.fromItem(item);
export const appliedToItem = (r: AgentReport): Item & Key => appliedItem.toItem(r, r);
export const heartbeatToItem = (hb: AgentHeartbeat): Item & Key => heartbeatItem.toItem(hb.host, hb);

const SECONDS_PER_DAY = 86_400;

/** When an activity line written at `atMs` expires: its TTL attribute, epoch seconds. */
export function activityExpiresAtS(atMs: number, retentionDays = DEFAULT_ACTIVITY_RETENTION_DAYS): number {
  return Math.floor(atMs / 1000) + retentionDays * SECONDS_PER_DAY;
}

/**
 * Whether an item has passed its TTL at `nowMs`. DynamoDB deletes expired
 * items lazily (up to days later), so readers skip them themselves.
 */
export function isExpired(item: Item, nowMs: number): boolean {
  const expiresAtS = item[TTL_ATTRIBUTE];
  return typeof expiresAtS === 'number' && expiresAtS * 1000 <= nowMs;
}

/**
 * An activity line: LOG#<structure> / <at>#<seq>, with its TTL attribute
 * (`at` + the retention). Every writer of activity lines goes through here.
 */
export function activityToItem(
  a: ActivityInput,
  seq: string,
  retentionDays = DEFAULT_ACTIVITY_RETENTION_DAYS,
): Item & Key {
  const valid = parseOrThrow(Activity, a, 'activity');
  return {
    ...valid,
    ...keys.activity(valid.structure, valid.at, seq),
    [TTL_ATTRIBUTE]: activityExpiresAtS(valid.at, retentionDays),
  };
}

/** The activity fields of an item: without its keys and its TTL attribute. */
function activityBody(item: Item): Item {
  const { [TTL_ATTRIBUTE]: _expiresAtS, ...rest } = body(item);
  return rest;
}

export function activityFromItem(item: Item): Activity {
  return parseOrThrow(Activity, activityBody(item), 'activity');
}

export function safeActivityFromItem(item: Item): z.ZodSafeParseResult<Activity> {
  return Activity.safeParse(activityBody(item));
}

/**
 * A packed activity item: the lines of one host's containers (and the host's
 * own) held for a while by the control tick, written as ONE item under the
 * host's partition (LOG#<host> / <newest at>#<seq>). Write units are per
 * started KB per item, so one item of many lines costs a fraction of one item
 * per line. `linesz` holds the lines as one JSON array, deflated (raw DEFLATE);
 * `expiresAtS` is the newest line's expiry, so no line leaves before its own
 * (readers skip the item as a whole once it has passed).
 */
export const PACKED_LINES_ATTRIBUTE = 'linesz';
/** Raw JSON per packed item at most (deflated it is several times smaller; the item limit is 400 KB). */
export const MAX_PACKED_JSON_BYTES = 64 * 1024;

/**
 * A packed item's lines are at most this older than its sort key (its newest line's time), so a
 * reader of a time window finds them by widening its sort-key range by this much.
 */
export const MAX_PACK_SPAN_MS = 3_600_000;

/**
 * Pack lines under `host`'s partition: as few items as fit MAX_PACKED_JSON_BYTES
 * of JSON and MAX_PACK_SPAN_MS of time each, lines in time order (equal times
 * in their given order). `seq` makes the sort keys unique (`<seq>.<n>`). Every
 * line is validated; a bad one throws, naming the field.
 */
export function packedActivityItems(
  host: string,
  lines: readonly ActivityInput[],
  seq: string,
  retentionDays = DEFAULT_ACTIVITY_RETENTION_DAYS,
): (Item & Key)[] {
  const valid = lines.map((l) => parseOrThrow(Activity, l, 'activity')).sort((a, b) => a.at - b.at);
  const chunks: Activity[][] = [];
  let chunk: Activity[] = [];
  let bytes = 2;
  for (const a of valid) {
    const size = Buffer.byteLength(JSON.stringify(a)) + 1;
    const first = chunk[0];
    if (first !== undefined && (bytes + size > MAX_PACKED_JSON_BYTES || a.at - first.at > MAX_PACK_SPAN_MS)) {
      chunks.push(chunk);
      chunk = [];
      bytes = 2;
    }
    chunk.push(a);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks.map((c, n) => {
    const newest = Math.max(...c.map((a) => a.at));
    return {
      ...keys.activity(host, newest, `${seq}.${n}`),
      [PACKED_LINES_ATTRIBUTE]: deflateRawSync(JSON.stringify(c), { level: 9 }),
      [TTL_ATTRIBUTE]: activityExpiresAtS(newest, retentionDays),
    };
  });
}

export function isPackedActivityItem(item: Item): boolean {
  return item[PACKED_LINES_ATTRIBUTE] instanceof Uint8Array;
}

/**
 * Every line an activity item holds: one for a single line (the older layout,
 * still written by the API, the sanity sweep and the ReBalancer), all of them
 * for a packed item. Lines that do not parse are counted in `bad`, not thrown.
 */
export function activityLinesFromItem(item: Item): { lines: Activity[]; bad: number } {
  const packed = item[PACKED_LINES_ATTRIBUTE];
  if (!(packed instanceof Uint8Array)) {
    const one = safeActivityFromItem(item);
    return one.success ? { lines: [one.data], bad: 0 } : { lines: [], bad: 1 };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(inflateRawSync(packed).toString('utf8'));
  } catch {
    return { lines: [], bad: 1 };
  }
  if (!Array.isArray(raw)) return { lines: [], bad: 1 };
  const lines: Activity[] = [];
  let bad = 0;
  for (const l of raw) {
    const a = Activity.safeParse(l);
    if (a.success) lines.push(a.data);
    else bad += 1;
  }
  return { lines, bad };
}
