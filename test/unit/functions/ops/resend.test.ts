import { describe, expect, it } from '@jest/globals';
import type { HostView } from '../../../../adapters/dynamodb/fleet.ts';
import type { ScaleOrder } from '../../../../core/contracts/order.ts';
import type { Lagging } from '../../../../core/policy/sanity-findings.ts';
import { fleetLaggingState, resendWith } from '../../../../functions/ops/resend.ts';
import { aContainer } from '../../../support/containers.ts';
import { aHostState, anAppliedReport, spec } from '../../../support/ops-fixtures.ts';

const NOW = 100_000;
const config = { RESEND_AFTER: 20, ORDER_TTL: 120 };

function aView(name: string, queueUrl: string | null, desired: number, applied: number): HostView {
  const c = aContainer(`${name}-c`, name, {
    desiredVersion: desired,
    desiredAt: NOW - 30_000,
    resources: { cpu: spec(150, 400, 50), mem: spec(2048, 4096, 256) },
  });
  return {
    state: aHostState(name, [c], { queueUrl }),
    guards: new Map(),
    applied: new Map([[c.name, anAppliedReport(name, c.name, applied, NOW - 60_000)]]),
    heartbeat: null,
  };
}
const lagOf = (v: HostView, desired: number, applied: number): Lagging => ({
  host: v.state.name,
  container: `${v.state.name}-c`,
  desiredVersion: desired,
  appliedVersion: applied,
  lagS: 30,
});

describe('re-send step', () => {
  it('re-sends through the Scaler’s resend sweep, rebuilt from the desired state with a fresh dedup id', async () => {
    const sent: [string, ScaleOrder][] = [];
    const step = resendWith({
      send: async (url, orders) => {
        for (const order of orders) sent.push([url, order]);
        return { sent: orders.length, failed: 0 };
      },
    });
    const h = aView('h1', 'q-h1', 3, 2);
    const outcomes = await step([lagOf(h, 3, 2)], [h, aView('h2', 'q-h2', 5, 4)], NOW, config);
    expect(outcomes).toEqual([{ container: 'h1-c', host: 'h1', sent: true }]);
    // only the host with a lagging container was looked at: h2's lag is not this sweep's finding
    expect(sent.map(([url]) => url)).toEqual(['q-h1']);
    expect(sent[0]?.[1]).toMatchObject({
      orderId: `h1-c.v3.r${NOW}`,
      desiredVersion: 3,
      expiresAt: NOW + 120_000,
      limits: { cpuShares: 150, memMiB: 2048 },
    });
  });

  it('reports a failed send and a host without a queue per container', async () => {
    const step = resendWith({
      send: async () => {
        throw new Error('queue gone');
      },
    });
    const h1 = aView('h1', 'q-h1', 3, 2);
    const h2 = aView('h2', null, 3, 2);
    expect(await step([lagOf(h1, 3, 2), lagOf(h2, 3, 2)], [h1, h2], NOW, config)).toEqual([
      { container: 'h1-c', host: 'h1', sent: false, error: 'queue gone' },
      { container: 'h2-c', host: 'h2', sent: false, error: 'not sent (the host has no known order queue)' },
    ]);
  });

  it('serves the fleet read as the sweep’s lagging state', async () => {
    const state = fleetLaggingState([aView('h1', 'q', 3, 2)]);
    expect(await state.listHosts()).toEqual(['h1']);
    expect((await state.getHostWithApplied('h1'))?.applied).toEqual(new Map([['h1-c', 2]]));
    expect(await state.getHostWithApplied('nope')).toBeNull();
  });
});
