/** Appends activity lines (LOG#<structure>) — findings, decisions — for `sc status` and the dashboard. */
import { randomBytes } from 'node:crypto';
import { Activity, type ActivityInput } from '../../core/contracts/activity.ts';
import { parseOrThrow } from '../../core/errors.ts';
import { keys } from './table.ts';
import type { TableClient } from './table-client.ts';

export async function recordActivity(table: TableClient, input: ActivityInput): Promise<void> {
  const a = parseOrThrow(Activity, input, 'activity');
  await table.put({ ...keys.activity(a.structure, a.at, randomBytes(4).toString('hex')), ...a });
}

/** The most recent activity lines of a structure, newest first. */
export async function recentActivity(table: TableClient, structure: string, limit = 50): Promise<Activity[]> {
  const items = await table.queryPartition(keys.activityPartition(structure));
  return items
    .slice(-limit)
    .reverse()
    .map((i) => {
      const { pk: _pk, sk: _sk, ...rest } = i;
      return parseOrThrow(Activity, rest, 'activity');
    });
}
