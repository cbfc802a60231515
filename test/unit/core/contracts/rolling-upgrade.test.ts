/**
 * Rolling upgrades (README "Upgrades and rollback"): agents are upgraded first, then the functions, so
 * for a while agents one schema version behind read what newer functions write. The readers
 * below are FROZEN copies of the agent's order and host-state parsers as schema version 2 shipped
 * them (core/contracts/order.ts, host.ts, structure.ts at the commit that introduced
 * SCHEMA_VERSION = 2): when the contracts change, leave these as they are — they are the previous
 * release — and add what the new writers write to `newer`. The strict version-1 reader is kept
 * too: it shows why this one transition must go agents first.
 */
import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { hostStateFromItem, hostStateToItem } from '../../../../core/contracts/items.ts';
import { SCHEMA_VERSION } from '../../../../core/contracts/order.ts';
import { parseOrderMessage } from '../../../../core/contracts/order-queue.ts';
import { buildOrder } from '../../../../core/policy/planner/orders.ts';
import { aContainer, unadmitted } from '../../../support/containers.ts';
import { aHost, spec } from '../../../support/planner-fixtures.ts';

// ---- frozen: the version-2 agent's readers ----
const V2Name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/);
const V2Amount = z.number().int().nonnegative();
const V2Reason = z.object({
  source: z.string().min(1),
  text: z.string(),
  values: z.record(z.string(), z.union([z.number(), z.string(), z.null()])).default({}),
});
const V2OrderLimits = z.object({
  cpuShares: V2Amount.min(1).optional(),
  cpuset: z
    .string()
    .regex(/^$|^\d+(-\d+)?(,\d+(-\d+)?)*$/)
    .optional(),
  memMiB: V2Amount.min(4).optional(),
  diskReadMiBps: V2Amount.min(1).optional(),
  diskWriteMiBps: V2Amount.min(1).optional(),
  netMbps: V2Amount.min(1).optional(),
});
const V2ScaleOrder = z.object({
  kind: z.literal('scale-order'),
  schemaVersion: z.number().int().min(1).optional(),
  orderId: z.string().min(1).max(128),
  host: V2Name,
  container: V2Name,
  desiredVersion: z.number().int().positive(),
  issuedAt: V2Amount,
  expiresAt: V2Amount,
  limits: V2OrderLimits,
  reasons: z.array(V2Reason).default([]),
});
/** What the v2 agent needs of a host state: its name, version and containers' desired versions. */
const V2HostState = z.looseObject({
  schemaVersion: z.number().int().min(1).optional(),
  name: V2Name,
  version: z.number().int().nonnegative(),
  containers: z.record(
    z.string(),
    z.looseObject({ name: V2Name, desiredVersion: z.number().int().nonnegative() }),
  ),
  queueUrl: z.string().nullable().default(null),
});

// ---- frozen: the version-1 agent's order reader (strict: any unknown field refused) ----
const V1ScaleOrder = V2ScaleOrder.omit({ schemaVersion: true })
  .extend({ limits: V2OrderLimits.strict(), reasons: z.array(V2Reason.strict()).default([]) })
  .strict();

/** Today's writers' output, plus what a next version may add: new fields at every level. */
function newer<T extends object>(current: T, extra: Record<string, unknown>): T {
  return { ...current, ...extra, schemaVersion: SCHEMA_VERSION + 1 };
}
const host = aHost({ name: 'h1' });
const container = {
  ...aContainer('c1', 'h1', { resources: { cpu: spec(150, 100, 400) }, ...unadmitted() }),
  cores: ['0', '1'],
  desiredVersion: 3,
};
const order = buildOrder(host, container, 1_000, 30, [{ source: 'CpuRescaleUp', text: 'up', values: {} }]);

describe('rolling upgrades: what the previous agent reads', () => {
  it('reads the orders the functions write now', () => {
    expect(V2ScaleOrder.parse(JSON.parse(JSON.stringify(order)))).toMatchObject({
      container: 'c1',
      desiredVersion: 3,
      limits: order.limits,
    });
  });

  it('reads an order of the next version, ignoring the fields it does not know', () => {
    const next = newer(order, {
      priority: 'high',
      limits: { ...order.limits, gpuShares: 2 },
      reasons: [{ ...order.reasons[0], confidence: 0.9 }],
    });
    const read = V2ScaleOrder.parse(JSON.parse(JSON.stringify(next)));
    expect(read).toMatchObject({ container: 'c1', desiredVersion: 3, limits: order.limits });
    expect(read).not.toHaveProperty('priority');
  });

  it('reads the host state the functions write now and of the next version, keeping unknown fields', () => {
    const stored = JSON.parse(JSON.stringify(hostStateFromItem(hostStateToItem(host))));
    expect(V2HostState.parse(stored)).toMatchObject({ name: 'h1', schemaVersion: SCHEMA_VERSION });
    const next = V2HostState.parse(newer(stored, { region: 'eu-west-1' }));
    expect(next).toMatchObject({ name: 'h1', region: 'eu-west-1' }); // kept: a write-back does not lose it
  });

  it('and today’s readers read what the previous (version 1) functions wrote: no schemaVersion', () => {
    const { schemaVersion: _v, ...v1 } = order;
    expect(parseOrderMessage(JSON.stringify(v1))).toMatchObject({ container: 'c1', desiredVersion: 3 });
    expect(parseOrderMessage(JSON.stringify(newer(order, { priority: 'high' })))).toMatchObject({
      desiredVersion: 3,
    });
  });

  it('the strict version-1 agent refuses version-2 orders: this upgrade goes agents first', () => {
    const { schemaVersion: _v, ...v1 } = order;
    expect(V1ScaleOrder.safeParse(JSON.parse(JSON.stringify(v1))).success).toBe(true);
    expect(V1ScaleOrder.safeParse(JSON.parse(JSON.stringify(order))).success).toBe(false);
  });
});
