import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createSqsClient } from '../../../../adapters/aws.ts';
import { ScalerStore } from '../../../../adapters/dynamodb/scaler-store.ts';
import { silentLogger } from '../../../../adapters/logger.ts';
import { deleteHostQueues, ensureHostQueues } from '../../../../adapters/sqs/order-queues.ts';
import { parseOrderMessage } from '../../../../core/contracts/order-queue.ts';
import { defaultConfig } from '../../../../core/contracts/service-config.ts';
import { keys } from '../../../../core/contracts/table-layout.ts';
import { accountingIssues } from '../../../../core/policy/planner/capacity.ts';
import { checkHostAccounting } from '../../../../core/policy/sanity-findings.ts';
import { rebalanceTick } from '../../../../functions/ops/rebalance.ts';
import { Planner } from '../../../../functions/scaler/scaler-pass.ts';
import { sqsOrderSender } from '../../../../functions/scaler/sqs-order-sender.ts';
import { aContainer, unadmitted } from '../../../support/containers.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS, sqsEndpoint, uniqueName } from '../../../support/env.ts';
import { ManualClock, ScriptedMetrics } from '../../../support/ops-fixtures.ts';
import { aHost, spec } from '../../../support/planner-fixtures.ts';
import { seedHost } from '../../../support/scaler-seed.ts';

/**
 * The ReBalancer's paired requests through the real planner: one idle and one
 * saturated container of one application on one pinned host. After three
 * periods the saturated one holds what the idle one gave, the pair's total
 * and the host's free capacity are unchanged, and the host accounting is sound.
 */
describe.each(DYNAMO_FLAVOURS)('rebalance through the planner on %s', (flavour) => {
  let t: TestTable;
  let sqs: SQSClient;
  const hostName = uniqueName('h');
  const [idle, hot] = [uniqueName('idle'), uniqueName('hot')];
  let queueUrl = '';

  beforeAll(async () => {
    t = await createTestTable(flavour);
    sqs = createSqsClient({ endpoint: sqsEndpoint(), region: 'us-east-1' });
    queueUrl = (await ensureHostQueues(sqs, hostName)).queueUrl;
    await seedHost(
      new ScalerStore(t.table),
      aHost({ name: hostName, queueUrl }),
      [
        aContainer(idle, hostName, {
          resources: { cpu: spec(200, 50, 400) },
          ...unadmitted(),
          application: 'app',
        }),
        aContainer(hot, hostName, {
          resources: { cpu: spec(100, 50, 400) },
          ...unadmitted(),
          application: 'app',
        }),
      ],
      1_000,
    );
    await t.table.put({ ...keys.service('rebalancer'), name: 'rebalancer', config: { ACTIVE: true } });
  });
  afterAll(async () => {
    await deleteHostQueues(sqs, hostName);
    sqs.destroy();
    await t.drop();
  });

  it('moves cpu from the idle container to the saturated one, pair by pair, total unchanged', async () => {
    // The ReBalancer's own clients: its calls are recorded as the rebalancer's (IAM test).
    const own = t.as('rebalancer');
    const ownSqs = createSqsClient({ endpoint: sqsEndpoint(), region: 'us-east-1', record: own.record });
    const store = new ScalerStore(t.table);
    const ownStore = new ScalerStore(own.table);
    const planner = new Planner({
      state: ownStore,
      activity: ownStore,
      orders: sqsOrderSender(ownSqs),
      config: () => defaultConfig('scaler'),
    });
    const metrics = new ScriptedMetrics();
    const clock = new ManualClock(1_795_000_000_000);
    const before = await store.getHost(hostName);
    for (let period = 0; period < 3; period++) {
      const now = await store.getHost(hostName);
      const cur = (n: string) => now?.containers[n]?.resources.cpu?.current ?? 0;
      // idle uses 20; hot uses all it is given
      metrics.byEndS.set(
        -1,
        new Map([
          [idle, { cpu: 20 }],
          [hot, { cpu: cur(hot) }],
        ]),
      );
      const r = await rebalanceTick({
        table: own.table,
        metrics,
        sink: planner,
        clock,
        logger: silentLogger,
      });
      expect(r.submitted?.rejected).toEqual([]);
      clock.t += 30_000;
    }
    const after = await store.getHost(hostName);
    const cpu = (h: typeof after, n: string) => h?.containers[n]?.resources.cpu?.current;
    // 200 → 140 → 104 → 83 (gives 60, 36, 21); hot 100 → 160 → 196 → 217
    expect([cpu(after, idle), cpu(after, hot)]).toEqual([83, 217]);
    expect(after?.capacity.cpu.free).toBe(before?.capacity.cpu.free);
    if (after === null) throw new Error('host gone');
    expect(accountingIssues(after)).toEqual([]);
    ownSqs.destroy();
    expect(checkHostAccounting(after).issues).toEqual([]);

    // both containers got orders; the newest ones carry the final allocations
    const last = new Map<string, number | undefined>();
    for (let empty = 0; empty < 2; ) {
      const out = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      if ((out.Messages ?? []).length === 0) empty += 1;
      for (const m of out.Messages ?? []) {
        const o = parseOrderMessage(m.Body);
        last.set(o.container, o.limits.cpuShares);
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
      }
    }
    expect(Object.fromEntries(last)).toEqual({ [idle]: 83, [hot]: 217 });
  });
});
