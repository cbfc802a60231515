/**
 * Scale orders from desired container state (pure). An order carries the
 * container's full desired limits, so applying it twice changes nothing.
 */

import type { z } from 'zod';
import type { CpuPlacement, HostState } from '../../contracts/host.ts';
import { type OrderLimits, orderId, SCHEMA_VERSION, type ScaleOrder } from '../../contracts/order.ts';
import type { Reason } from '../../contracts/reason.ts';
import type { Container } from '../../contracts/structure.ts';
import { cpusetList } from './cores.ts';

/** Smallest value each order field accepts (core/contracts/order.ts); lower values are left out. */
const ORDER_FLOOR = { cpuShares: 1, memMiB: 4, diskReadMiBps: 1, diskWriteMiBps: 1, netMbps: 1 } as const;

export function orderLimits(container: Container, placement: z.infer<typeof CpuPlacement>): OrderLimits {
  const limits: OrderLimits = {};
  const r = container.resources;
  const set = (key: keyof typeof ORDER_FLOOR, value: number | undefined): void => {
    if (value !== undefined && value >= ORDER_FLOOR[key]) limits[key] = value;
  };
  set('cpuShares', r.cpu?.current);
  if (r.cpu !== undefined) limits.cpuset = placement === 'pinned' ? cpusetList(container.cores) : '';
  set('memMiB', r.mem?.current);
  set('diskReadMiBps', r.disk_read?.current);
  set('diskWriteMiBps', r.disk_write?.current);
  set('netMbps', r.net?.current);
  return limits;
}

export function buildOrder(
  host: HostState,
  container: Container,
  now: number,
  orderTtlS: number,
  reasons: readonly Reason[],
  id: string = orderId(container.name, container.desiredVersion),
): ScaleOrder {
  return {
    kind: 'scale-order',
    schemaVersion: SCHEMA_VERSION,
    orderId: id,
    host: host.name,
    container: container.name,
    desiredVersion: container.desiredVersion,
    issuedAt: now,
    expiresAt: now + orderTtlS * 1000,
    limits: orderLimits(container, host.cpuPlacement),
    reasons: [...reasons],
  };
}
