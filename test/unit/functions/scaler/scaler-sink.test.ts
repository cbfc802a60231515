import { describe, expect, it } from '@jest/globals';
import type { HostState } from '../../../../core/contracts/host.ts';
import { defaultConfig, type ScalerConfig } from '../../../../core/contracts/service-config.ts';
import { admitContainer } from '../../../../core/policy/planner/admission.ts';
import { ScalerSink } from '../../../../functions/scaler/scaler-sink.ts';
import { aContainer, unadmitted } from '../../../support/containers.ts';
import { FakeOrderSender, FakeScalerState } from '../../../support/fake-scaler-state.ts';
import { aHost, aRequest, spec } from '../../../support/planner-fixtures.ts';

const NOW = 1_001_000;

function setup(load: () => Promise<ScalerConfig>) {
  const state = new FakeScalerState();
  const orders = new FakeOrderSender();
  let host: HostState = aHost({ name: 'h1', queueUrl: 'https://sqs.local/q-h1', memMiB: 8192 });
  const admitted = admitContainer(
    host,
    aContainer('a', 'h1', { resources: { cpu: spec(200, 100, 400) }, ...unadmitted() }),
    NOW - 60_000,
  );
  if (!admitted.ok) throw new Error(admitted.reason);
  host = admitted.host;
  state.putHost(host);
  let loads = 0;
  const sink = new ScalerSink({
    state,
    activity: state,
    orders,
    loadConfig: () => {
      loads += 1;
      return load();
    },
  });
  return { sink, orders, loads: () => loads };
}

describe('ScalerSink', () => {
  it('plans with the config stored at submission time and sends the order', async () => {
    const stored = { ...defaultConfig('scaler'), MEM_SAFETY_MARGIN_MIB: 10 };
    const { sink, orders, loads } = setup(async () => stored);
    const out = await sink.submit([aRequest('a', 'cpu', 100)], NOW);
    expect(out).toEqual({ accepted: 1, rejected: [], orders: 1 });
    expect(orders.sent[0]?.order.limits.cpuShares).toBe(300); // 200 + 100
    expect(sink.currentConfig.MEM_SAFETY_MARGIN_MIB).toBe(10);
    expect(loads()).toBe(1);
  });

  it('refuses every request with the reason when the Scaler is inactive, sending nothing', async () => {
    const { sink, orders } = setup(async () => ({ ...defaultConfig('scaler'), ACTIVE: false }));
    const out = await sink.submit([aRequest('a', 'cpu', 100)], NOW);
    expect(out.accepted).toBe(0);
    expect(out.rejected).toEqual([{ id: expect.any(String), reason: 'scaler inactive (ACTIVE=false)' }]);
    expect(orders.sent).toHaveLength(0);
  });

  it('keeps planning with the last good config when the config cannot be read', async () => {
    const { sink, orders } = setup(async () => {
      throw new Error('table unavailable');
    });
    const out = await sink.submit([aRequest('a', 'cpu', 100)], NOW);
    expect(out.orders).toBe(1);
    expect(orders.sent).toHaveLength(1);
  });

  it('does not read the config when there is nothing to plan', async () => {
    const { sink, loads } = setup(async () => defaultConfig('scaler'));
    expect(await sink.submit([], NOW)).toEqual({ accepted: 0, rejected: [], orders: 0 });
    expect(loads()).toBe(0);
  });
});
