/**
 * The platform's shared environment: every deployable (bootstrap, local
 * platform, scheduled functions, API, host agent) names the state table and
 * the queue prefix with these two variables, and composes them into its own
 * strict env schema. The deployables that write activity lines (API, control
 * tick, operations functions) also compose ActivityEnv.
 */
import { z } from 'zod';
import { DEFAULT_QUEUE_PREFIX } from '../core/contracts/order-queue.ts';
import { DEFAULT_ACTIVITY_RETENTION_DAYS, DEFAULT_TABLE_NAME } from '../core/contracts/table-layout.ts';

export const PlatformEnv = z.object({
  SC_TABLE: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be 3-255 characters of letters, digits, "_", "." or "-"')
    .default(DEFAULT_TABLE_NAME)
    .describe('Name of the DynamoDB state table.'),
  SC_QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]{0,40}$/, 'must be at most 40 characters of letters, digits, "_" or "-"')
    .default(DEFAULT_QUEUE_PREFIX)
    .describe('Prefix of every SQS queue name (per-host order queues `<prefix><host>.fifo` and their DLQs).'),
});
export type PlatformEnv = z.infer<typeof PlatformEnv>;

/** The retention of activity lines, for the deployables that write them (not the host agent). */
export const ActivityEnv = z.object({
  SC_ACTIVITY_RETENTION_DAYS: z.coerce
    .number()
    .int()
    .min(1)
    .max(3650)
    .default(DEFAULT_ACTIVITY_RETENTION_DAYS)
    .describe(
      'Days an activity line (LOG#) is kept: written with a DynamoDB TTL of its time + this; readers skip expired lines.',
    ),
});
export type ActivityEnv = z.infer<typeof ActivityEnv>;
