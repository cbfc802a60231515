import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from '@jest/globals';
import type { ChainOutcome } from '../../../../functions/guardian/chain.ts';
import type { TickReport } from '../../../../functions/guardian/tick.ts';
import {
  chainMetrics,
  METRIC,
  sanityMetrics,
  sanityRoundsMetrics,
} from '../../../../functions/handlers/middleware.ts';

const aReport = (at: number, o: Partial<TickReport> = {}): TickReport =>
  ({ at, decisions: 3, requests: [{}, {}], ...o }) as unknown as TickReport;
const ran = (report: TickReport | null): ChainOutcome => ({
  ran: true,
  report,
  next: { chain: 'c', at: 0 },
  delayS: 5,
  resumed: true,
});
/** The EMF document the invocation would flush, as name → values. */
function emitted(m: Metrics): Record<string, unknown> {
  const emf = m.serializeMetrics() as unknown as Record<string, unknown>;
  const names = (
    emf._aws as { CloudWatchMetrics: { Metrics: { Name: string }[] }[] }
  ).CloudWatchMetrics[0]?.Metrics.map((x) => x.Name);
  return Object.fromEntries((names ?? []).map((n) => [n, emf[n]]));
}

describe('handler metrics (EMF)', () => {
  it('counts a chained tick that failed as a failed tick, beside the ones that ran', () => {
    const m = new Metrics({ namespace: 'test', serviceName: 'controlTick' });
    chainMetrics(
      m,
      [ran(aReport(10_000)), ran(null), { ran: false, reason: 'duplicate-or-other-chain' }],
      10_750,
      4,
    );
    expect(emitted(m)).toMatchObject({
      [METRIC.ticks]: 2, // one report + one failure; the dropped duplicate is not a tick
      [METRIC.failedTicks]: 1,
      [METRIC.tickAge]: 750, // invoked at 10 750 for the window at 10 000
      [METRIC.decisions]: 3,
      [METRIC.requests]: 2,
      [METRIC.ordersSent]: 4,
    });
  });

  it('reports zero failed ticks when every tick ran', () => {
    const m = new Metrics({ namespace: 'test', serviceName: 'controlTick' });
    chainMetrics(m, [ran(aReport(0))], 0, 0);
    expect(emitted(m)).toMatchObject({ [METRIC.failedTicks]: 0, [METRIC.ticks]: 1 });
  });

  it('counts the agents the sanity sweep marked degraded and the orders it re-sent', () => {
    const m = new Metrics({ namespace: 'test', serviceName: 'sanity' });
    sanityMetrics(m, [
      { check: 'agent', structure: 'h1', text: '', action: 'marked-degraded' },
      { check: 'agent', structure: 'h2', text: '', action: 'cleared-degraded' },
      { check: 'drift', structure: 'c1', text: '', action: 'resent' },
    ] as never);
    expect(emitted(m)).toMatchObject({ [METRIC.agentsDegraded]: 1, [METRIC.ordersResent]: 1 });
  });

  it('reports the orders waiting on the dead-letter queues when the sweep counted them, and nothing when not', () => {
    const counted = new Metrics({ namespace: 'test', serviceName: 'sanity' });
    sanityMetrics(counted, [], 3);
    expect(emitted(counted)).toMatchObject({ [METRIC.ordersDeadLettered]: 3 });
    const zero = new Metrics({ namespace: 'test', serviceName: 'sanity' });
    sanityMetrics(zero, [], 0);
    expect(emitted(zero)).toMatchObject({ [METRIC.ordersDeadLettered]: 0 });
    // an invocation of several rounds reports the last count (a gauge), and every round's findings
    const rounds = new Metrics({ namespace: 'test', serviceName: 'sanity' });
    sanityRoundsMetrics(rounds, [
      { findings: [], deadLettered: 5 },
      { findings: [{ check: 'lagging', structure: 'c1', text: '', action: 'resent' }], deadLettered: null },
      { findings: [], deadLettered: 2 },
    ]);
    expect(emitted(rounds)).toMatchObject({ [METRIC.ordersDeadLettered]: 2, [METRIC.ordersResent]: 1 });
    const notCounted = new Metrics({ namespace: 'test', serviceName: 'sanity' });
    sanityMetrics(notCounted, []);
    expect(emitted(notCounted)).not.toHaveProperty(METRIC.ordersDeadLettered);
  });
});
