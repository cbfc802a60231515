/** Appends activity lines (LOG#<structure>) — findings, decisions — for `sc status` and the dashboard. */
import { randomBytes } from 'node:crypto';
import type { Activity, ActivityInput } from '../../core/contracts/activity.ts';
import { activityFromItem, activityToItem, isExpired } from './items.ts';
import { keys } from './table.ts';
import type { TableClient } from './table-client.ts';

/** Append one line; it carries its TTL (`at` + the table's activity retention). */
export async function recordActivity(table: TableClient, input: ActivityInput): Promise<void> {
  await table.put(activityToItem(input, randomBytes(4).toString('hex'), table.activityRetentionDays));
}

/**
 * The most recent activity lines of a structure, newest first. Lines past
 * their TTL at `nowMs` are skipped: DynamoDB deletes them only lazily.
 */
export async function recentActivity(
  table: TableClient,
  structure: string,
  limit = 50,
  nowMs = Date.now(),
): Promise<Activity[]> {
  const items = await table.queryPartition(keys.activityPartition(structure));
  return items
    .filter((i) => !isExpired(i, nowMs))
    .slice(-limit)
    .reverse()
    .map(activityFromItem);
}
