import { z } from 'zod';
import { ContainerName, HostName } from './names.ts';
import { Reason } from './reason.ts';
import { Amount, EpochMillis } from './units.ts';

/** cpuset list as the kernel writes it: "0-2,5". Empty string = no pinning. */
export const CpusetList = z.string().regex(/^$|^\d+(-\d+)?(,\d+(-\d+)?)*$/, {
  message: 'must be a cpuset list such as "0-2,5"',
});

/**
 * Rolling upgrades (README "Upgrades and rollback"): every message and state item carries the schema
 * version its writer speaks, and readers are tolerant — unknown fields are ignored (never a reason
 * to dead-letter), a missing version is 1 — so an agent one version behind reads what newer
 * functions write. Strictness lives at the API's input boundary (functions/api/schemas.ts).
 * Version 2 added `schemaVersion` itself.
 */
export const SCHEMA_VERSION = 2;
export const SchemaVersion = z.number().int().min(1).optional();

/**
 * The limits an order asks for: the container's full desired state per
 * resource (declarative, so applying an order twice changes nothing). Absent
 * key = leave that resource as it is.
 */
export const OrderLimits = z.object({
  cpuShares: Amount.min(1).optional(),
  cpuset: CpusetList.optional(),
  memMiB: Amount.min(4).optional(),
  diskReadMiBps: Amount.min(1).optional(),
  diskWriteMiBps: Amount.min(1).optional(),
  netMbps: Amount.min(1).optional(),
});
export type OrderLimits = z.infer<typeof OrderLimits>;

/**
 * The highest `desiredVersion` anything accepts: 2^40 (about 1.1e12). Every committed
 * change bumps a container's version by one, so at ten changes a second a container
 * needs 3,000+ years to reach it; far below 2^53, `version + 1` stays exact, and an
 * order at 2^53 − 1 (which would make every later order stale) is refused at parse.
 */
export const MAX_DESIRED_VERSION = 2 ** 40;
export const DesiredVersion = z.number().int().nonnegative().max(MAX_DESIRED_VERSION);

/**
 * A scale order, one per committed change, on the host's FIFO queue
 * (MessageGroupId = container, MessageDeduplicationId = orderId).
 */
export const ScaleOrder = z
  .object({
    kind: z.literal('scale-order'),
    schemaVersion: SchemaVersion,
    orderId: z.string().min(1).max(128),
    host: HostName,
    container: ContainerName,
    desiredVersion: DesiredVersion.min(1),
    issuedAt: EpochMillis,
    expiresAt: EpochMillis,
    limits: OrderLimits,
    reasons: z.array(Reason).default([]),
  })
  .refine((o) => o.expiresAt > o.issuedAt, {
    message: 'expiresAt must be after issuedAt',
    path: ['expiresAt'],
  });
export type ScaleOrder = z.infer<typeof ScaleOrder>;

export function orderId(container: string, desiredVersion: number): string {
  return `${container}.v${desiredVersion}`;
}
