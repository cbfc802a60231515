/**
 * Activity lines (findings, events, requests, orders, decisions) for the
 * dashboard and audit. Two layouts, both read by `activityLinesFromItem`:
 *
 * - one item per line, LOG#<structure> / <at>#<seq> (the API, the sanity sweep,
 *   the ReBalancer, and lines whose host is not known);
 * - packed: the lines of one host's containers (and its own) as ONE item,
 *   LOG#<host> / <newest at>#<seq> (the control tick: Guardian and planner).
 *
 * Write units are per started KB per item, so the control tick packs: it holds
 * its lines per host (`ActivityBuffer`) and writes a host's lines as one item
 * once the oldest has waited `holdMs`. docs/state.md has the layout.
 */
import { randomBytes } from 'node:crypto';
import type { Activity, ActivityInput } from '../../core/contracts/activity.ts';
import {
  activityLinesFromItem,
  activityToItem,
  isExpired,
  MAX_PACK_SPAN_MS,
  packedActivityItems,
} from '../../core/contracts/items.ts';

export { MAX_PACK_SPAN_MS };

import type { Item, Key } from '../../core/contracts/items.ts';
import { keys } from '../../core/contracts/table-layout.ts';
import type { ActivityLine } from '../../core/ports/guardian-state.ts';
import type { TableClient } from './table-client.ts';

/** One line to record; `host`: the host whose partition packs it (null/absent: a single item). */
export type { ActivityLine };

/** Append one line as its own item; it carries its TTL (`at` + the table's activity retention). */
export async function recordActivity(table: TableClient, input: ActivityInput): Promise<void> {
  await table.put(activityToItem(input, randomBytes(4).toString('hex'), table.activityRetentionDays));
}

/** The items `lines` are written as: one packed item per host (more if large), one item per host-less line. */
export function activityItems(
  lines: readonly ActivityLine[],
  retentionDays: number,
  packSeq: () => string = () => randomBytes(4).toString('hex'),
): (Item & Key)[] {
  const items: (Item & Key)[] = [];
  const byHost = new Map<string, Activity[]>();
  for (const l of lines) {
    if (l.host == null) {
      items.push(activityToItem(l.activity, l.seq, retentionDays));
      continue;
    }
    const held = byHost.get(l.host);
    if (held === undefined) byHost.set(l.host, [l.activity]);
    else held.push(l.activity);
  }
  for (const [host, held] of byHost) items.push(...packedActivityItems(host, held, packSeq(), retentionDays));
  return items;
}

/** Write lines now: packed per host, single otherwise (BatchWriteItem, 25 items a request). */
export async function writeActivity(table: TableClient, lines: readonly ActivityLine[]): Promise<void> {
  if (lines.length === 0) return;
  await table.batchPut(activityItems(lines, table.activityRetentionDays));
}

/** Lines held per host at most; past it the oldest are dropped (a store that keeps failing). */
export const MAX_HELD_LINES_PER_HOST = 5_000;

/**
 * Holds the control tick's activity lines per host and writes each host's as
 * one packed item once its oldest line has waited `holdMs` (or at `flush` with
 * `all`: the Guardian's checkpoint, a one-shot tick). It is the planner's
 * ActivityLog in the control tick, and the Guardian's. Lines held when the
 * process dies are lost (≤ `holdMs` of them, like the unpersisted events of
 * the Guardian's memory); a failed write keeps them for the next flush.
 */
export class ActivityBuffer {
  readonly holdMs: number;
  private readonly table: TableClient;
  private readonly held = new Map<string, ActivityLine[]>();
  private single: ActivityLine[] = [];

  /** `holdMs` is capped at 15 minutes (what SC_ACTIVITY_HOLD_S allows). */
  constructor(table: TableClient, holdMs: number) {
    this.table = table;
    this.holdMs = Math.min(Math.max(0, holdMs), 900_000);
  }

  /** Hold lines (never fails: the write happens at a flush). */
  async recordActivity(lines: readonly ActivityLine[]): Promise<void> {
    for (const l of lines) {
      if (l.host == null) this.single.push(l);
      else this.hold(l.host, [l]);
    }
  }

  /** Lines held now. */
  get size(): number {
    let n = this.single.length;
    for (const h of this.held.values()) n += h.length;
    return n;
  }

  /**
   * Write what is due at `nowMs`: every host whose oldest held line is at
   * least `holdMs` old, and the host-less lines; everything with `all`.
   * Returns the lines written. A failed write keeps the lines and throws.
   */
  async flush(nowMs: number, opts: { all?: boolean } = {}): Promise<number> {
    const single = this.single;
    this.single = [];
    const taken: [string, ActivityLine[]][] = [];
    for (const [host, lines] of this.held) {
      const oldest = Math.min(...lines.map((l) => l.activity.at));
      if (opts.all === true || nowMs - oldest >= this.holdMs) taken.push([host, lines]);
    }
    for (const [host] of taken) this.held.delete(host);
    const due = [...single, ...taken.flatMap(([, lines]) => lines)];
    try {
      await writeActivity(this.table, due);
    } catch (err) {
      // Back in front of anything held since: written at the next flush.
      this.single = [...single, ...this.single];
      for (const [host, lines] of taken) {
        const since = this.held.get(host) ?? [];
        this.held.delete(host);
        this.hold(host, [...lines, ...since]);
      }
      throw err;
    }
    return due.length;
  }

  private hold(host: string, lines: readonly ActivityLine[]): void {
    const held = this.held.get(host) ?? [];
    held.push(...lines);
    if (held.length > MAX_HELD_LINES_PER_HOST) held.splice(0, held.length - MAX_HELD_LINES_PER_HOST);
    this.held.set(host, held);
  }
}

/**
 * The most recent activity lines of a structure, newest first: its own
 * partition and, when `host` is given (a container's), the lines packed under
 * its host's partition; with `sinceMs`, only lines from then on. Items past
 * their TTL at `nowMs` are skipped: DynamoDB deletes them only lazily.
 *
 * Each partition is read newest first, a page at a time, and no further than
 * needed: an item is keyed by its newest line, so once `limit` lines are held
 * and the next item's key is older than the oldest of them, nothing further can
 * be among the newest. The cost is that of the lines returned, not of the
 * history a structure has built up over the retention.
 */
export async function recentActivity(
  table: TableClient,
  structure: string,
  limit = 50,
  nowMs = Date.now(),
  opts: { host?: string | null; sinceMs?: number } = {},
): Promise<Activity[]> {
  const partitions = [keys.activityPartition(structure)];
  if (opts.host != null && opts.host !== structure) partitions.push(keys.activityPartition(opts.host));
  const sinceMs = Math.max(0, opts.sinceMs ?? 0);
  // Packed items are keyed by their newest line, at most MAX_PACK_SPAN_MS after their oldest.
  const skBetween = keys.activitySkBetween(sinceMs, Number.MAX_SAFE_INTEGER);
  // Ties in time keep the order of a full read: the later partition, sort key and line first.
  const held: { a: Activity; p: number; sk: string; j: number }[] = [];
  for (const [p, pk] of partitions.entries()) {
    const own: { a: Activity; p: number; sk: string; j: number }[] = [];
    const pageSize = Math.min(limit + 1, 100);
    read: for await (const page of table.queryNewestFirst(pk, { skBetween, pageSize })) {
      for (const item of page) {
        if (own.length >= limit && itemAt(item) < (own[limit - 1]?.a.at ?? 0)) break read;
        if (isExpired(item, nowMs)) continue;
        const sk = String(item.sk);
        for (const [j, a] of activityLinesFromItem(item).lines.entries())
          if (a.structure === structure && a.at >= sinceMs) own.push({ a, p, sk, j });
        own.sort(newestFirst);
      }
    }
    held.push(...own);
  }
  return held
    .sort(newestFirst)
    .slice(0, limit)
    .map((x) => x.a);
}

function newestFirst(
  x: { a: Activity; p: number; sk: string; j: number },
  y: { a: Activity; p: number; sk: string; j: number },
): number {
  return y.a.at - x.a.at || y.p - x.p || (y.sk < x.sk ? -1 : y.sk > x.sk ? 1 : 0) || y.j - x.j;
}

/** The time an activity item is keyed by (its newest line's): the sort key's leading digits. */
function itemAt(item: Item): number {
  const at = Number(String(item.sk).slice(0, 15));
  return Number.isFinite(at) ? at : Number.POSITIVE_INFINITY;
}
