import { describe, expect, it } from '@jest/globals';
import { SCHEMA_VERSION, ScaleOrder } from '../../../../../core/contracts/order.ts';
import { buildOrder, orderLimits } from '../../../../../core/policy/planner/orders.ts';
import { aContainer, unadmitted } from '../../../../support/containers.ts';
import { aHost, spec } from '../../../../support/planner-fixtures.ts';

describe('orderLimits', () => {
  it('carries every resource of the container, leaving out values the order contract refuses', () => {
    const c = {
      ...aContainer('a', 'host0', {
        resources: { cpu: spec(0, 0, 400), mem: spec(512, 4, 1024), net: spec(20, 1, 100) },
        ...unadmitted(),
      }),
      cores: ['2', '0', '1'],
    };
    expect(orderLimits(c, 'pinned')).toEqual({ cpuset: '0-2', memMiB: 512, netMbps: 20 }); // cpu 0 < 1: left out
    expect(orderLimits(c, 'quota')).toEqual({ cpuset: '', memMiB: 512, netMbps: 20 });
  });
});

describe('buildOrder', () => {
  it('builds an order the contract accepts, expiring ORDER_TTL after issue', () => {
    const c = {
      ...aContainer('a', 'host0', { resources: { cpu: spec(150, 100, 400) }, ...unadmitted() }),
      cores: ['0', '2'],
      desiredVersion: 7,
    };
    const order = buildOrder(aHost(), c, 1000, 30, []);
    expect(ScaleOrder.parse(order)).toEqual({
      kind: 'scale-order',
      schemaVersion: SCHEMA_VERSION,
      orderId: 'a.v7',
      host: 'host0',
      container: 'a',
      desiredVersion: 7,
      issuedAt: 1000,
      expiresAt: 31_000, // 1000 + 30 s
      limits: { cpuShares: 150, cpuset: '0,2' },
      reasons: [],
    });
  });
});
