import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { recentActivity } from '../../../../adapters/dynamodb/activity.ts';
import { silentLogger } from '../../../../adapters/logger.ts';
import type { ScaleRequest } from '../../../../core/contracts/request.ts';
import { keys } from '../../../../core/contracts/table-layout.ts';
import type { RequestSink, SubmitResult } from '../../../../core/ports/request-sink.ts';
import { rebalanceTick } from '../../../../functions/ops/rebalance.ts';
import { aContainer } from '../../../support/containers.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS, uniqueName } from '../../../support/env.ts';
import { aHostState, ManualClock, ScriptedMetrics, seedHost, spec } from '../../../support/ops-fixtures.ts';

class RecordingSink implements RequestSink {
  readonly submitted: ScaleRequest[] = [];
  readonly refuse: Set<string>;
  constructor(refuse: Set<string> = new Set()) {
    this.refuse = refuse;
  }
  async submit(requests: readonly ScaleRequest[]): Promise<SubmitResult> {
    this.submitted.push(...requests);
    const rejected = requests
      .filter((r) => this.refuse.has(r.structure))
      .map((r) => ({ id: r.id, reason: 'host full' }));
    return {
      accepted: requests.length - rejected.length,
      rejected,
      orders: 2 * (requests.length - rejected.length),
    };
  }
}

const T0 = 1_795_000_000_000;

describe.each(DYNAMO_FLAVOURS)('rebalance tick on %s', (flavour) => {
  let t: TestTable;
  const host = uniqueName('h');
  const [idle, busy, other] = [uniqueName('idle'), uniqueName('busy'), uniqueName('other')];
  const metrics = new ScriptedMetrics();
  metrics.byEndS.set(
    -1,
    new Map([
      [idle, { cpu: 20 }],
      [busy, { cpu: 100 }],
      [other, { cpu: 100 }],
    ]),
  );

  beforeAll(async () => {
    t = await createTestTable(flavour);
    await seedHost(
      t.table,
      aHostState(host, [
        aContainer(idle, host, { application: 'app', resources: { cpu: spec(200, 400, 50) } }),
        aContainer(busy, host, { application: 'app', resources: { cpu: spec(100, 400, 50) } }),
        aContainer(other, host, { application: 'another', resources: { cpu: spec(100, 400, 50) } }),
      ]),
    );
  });
  afterAll(async () => {
    await t.drop();
  });

  it('does nothing while the ReBalancer is not ACTIVE (its default)', async () => {
    const sink = new RecordingSink();
    const r = await rebalanceTick({
      table: t.table,
      metrics,
      sink,
      clock: new ManualClock(T0),
      logger: silentLogger,
    });
    expect(r.skipped).toBe(true);
    expect(sink.submitted).toEqual([]);
  });

  it('submits a paired request from the idle container to the busy one of the same application, and records it', async () => {
    await t.table.put({
      ...keys.service('rebalancer'),
      name: 'rebalancer',
      config: { ACTIVE: true, WINDOW_TIMELAPSE: 30, WINDOW_DELAY: 2 },
    });
    const sink = new RecordingSink();
    const r = await rebalanceTick({
      table: t.table,
      metrics,
      sink,
      clock: new ManualClock(T0),
      logger: silentLogger,
    });
    // container usage over [T0 − 2 s − 30 s, T0 − 2 s], in seconds
    expect(metrics.queries.at(-1)).toMatchObject({
      kind: 'container',
      resources: ['cpu'],
      window: { startS: T0 / 1000 - 32, endS: T0 / 1000 - 2 },
    });
    // 0.4 × (200 − max(50, 20)) = 60, to busy only ('other' is in another application)
    expect(sink.submitted).toEqual([
      expect.objectContaining({
        structure: busy,
        pairStructure: idle,
        amount: 60,
        priority: 2,
        structureType: 'container',
      }),
    ]);
    expect(r.submitted).toEqual({ accepted: 1, rejected: [], orders: 2 });
    const log = await recentActivity(t.table, busy, 50, T0);
    expect(log[0]).toMatchObject({ kind: 'decision', resource: 'cpu', text: `rebalance: +60 from ${idle}` });
  });

  it('records a refusal by the planner', async () => {
    const sink = new RecordingSink(new Set([busy]));
    await rebalanceTick({
      table: t.table,
      metrics,
      sink,
      clock: new ManualClock(T0 + 30_000),
      logger: silentLogger,
    });
    expect((await recentActivity(t.table, busy, 50, T0 + 30_000))[0]?.text).toMatch(
      /refused by the planner: host full/,
    );
  });

  it('leaves a degraded host alone', async () => {
    const { pk, sk } = keys.hostState(host);
    const item = await t.table.get({ pk, sk });
    await t.table.put({ ...(item as { pk: string; sk: string }), degraded: true });
    const sink = new RecordingSink();
    await rebalanceTick({
      table: t.table,
      metrics,
      sink,
      clock: new ManualClock(T0 + 60_000),
      logger: silentLogger,
    });
    expect(sink.submitted).toEqual([]);
  });
});
