import { describe, expect, it } from '@jest/globals';
import { ScaleOrder } from '../../../../core/contracts/order.ts';
import { cpusetList, desiredLimits, resendOrder } from '../../../../functions/ops/resend.ts';
import { aContainer, aHostState, spec } from '../../../support/ops-fixtures.ts';

describe('re-sent orders', () => {
  it('writes cpusets the way the kernel does', () => {
    expect(cpusetList(['0', '1', '2', '5', '7', '8'])).toBe('0-2,5,7-8');
    expect(cpusetList(['3'])).toBe('3');
    expect(cpusetList([])).toBe('');
  });

  it("express the container's whole desired state", () => {
    const c = aContainer('c1', 'h1', {
      cores: ['2', '3'],
      resources: { cpu: spec(150, 400), mem: spec(2048, 4096), disk_read: spec(50, 100), net: spec(0, 100) },
    });
    expect(desiredLimits(c, 'pinned')).toEqual({
      cpuShares: 150,
      cpuset: '2-3',
      memMiB: 2048,
      diskReadMiBps: 50,
    });
    expect(desiredLimits(c, 'quota')).toEqual({ cpuShares: 150, memMiB: 2048, diskReadMiBps: 50 });
  });

  it('carry the desired version, a fresh dedup id, an expiry and the reason, and satisfy the order contract', () => {
    const host = aHostState('h1', [aContainer('c1', 'h1', { desiredVersion: 7 })]);
    const order = resendOrder(
      host,
      { host: 'h1', container: 'c1', desiredVersion: 7, appliedVersion: 5, lagS: 42.4 },
      1_000,
      120,
    );
    expect(order).toMatchObject({
      orderId: 'c1.v7.r1000',
      desiredVersion: 7,
      issuedAt: 1_000,
      expiresAt: 121_000,
      reasons: [{ source: 'sanity', text: 're-sent: applied v5 < desired v7 for 42 s' }],
    });
    expect(ScaleOrder.safeParse(order).success).toBe(true);
    expect(
      resendOrder(
        host,
        { host: 'h1', container: 'gone', desiredVersion: 7, appliedVersion: 5, lagS: 1 },
        1,
        1,
      ),
    ).toBeNull();
  });
});
