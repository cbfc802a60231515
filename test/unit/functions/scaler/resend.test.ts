import { describe, expect, it } from '@jest/globals';
import { admitContainer } from '../../../../core/policy/planner/admission.ts';
import { resendLagging } from '../../../../functions/scaler/resend.ts';
import { aContainer, unadmitted } from '../../../support/containers.ts';
import { FakeOrderSender, FakeScalerState } from '../../../support/fake-scaler-state.ts';
import { aHost, spec } from '../../../support/planner-fixtures.ts';

const T0 = 10_000_000;

function setup() {
  const state = new FakeScalerState();
  const orders = new FakeOrderSender();
  let host = aHost({ name: 'h1', queueUrl: 'https://sqs.local/q-h1' });
  for (const name of ['a', 'b']) {
    const out = admitContainer(
      host,
      aContainer(name, 'h1', { resources: { cpu: spec(100, 100, 400) }, ...unadmitted() }),
      T0,
    ); // desiredVersion 1, desiredAt T0
    if (!out.ok) throw new Error(out.reason);
    host = out.host;
  }
  state.putHost(host);
  const deps = { state, orders, config: () => ({ RESEND_AFTER: 20, ORDER_TTL: 120 }) };
  return { state, orders, deps };
}

describe('resendLagging', () => {
  it('re-sends the desired limits of containers lagging longer than RESEND_AFTER', async () => {
    const { state, orders, deps } = setup();
    state.applied.set('b', 1); // b applied v1; a never reported
    const out = await resendLagging(deps, T0 + 20_001);
    expect(out).toEqual({ hosts: 1, lagging: 1, resent: 1, failed: 0, noQueue: 0 });
    expect(orders.sent[0]?.order).toMatchObject({
      container: 'a',
      desiredVersion: 1,
      orderId: `a.v1.r${T0 + 20_001}`,
      limits: { cpuShares: 100, cpuset: '0' },
    });
  });

  it('waits RESEND_AFTER before re-sending', async () => {
    const { orders, deps } = setup();
    expect((await resendLagging(deps, T0 + 20_000)).lagging).toBe(0);
    expect(orders.sent).toEqual([]);
  });

  it('counts failed sends without giving up on the others', async () => {
    const { orders, deps } = setup();
    orders.failing = true;
    expect(await resendLagging(deps, T0 + 60_000)).toMatchObject({ lagging: 2, resent: 0, failed: 2 });
  });
});
