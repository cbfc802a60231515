import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createSqsClient } from '../../../../adapters/aws.ts';
import { ScalerStore } from '../../../../adapters/dynamodb/scaler-store.ts';
import { ensureHostQueues } from '../../../../adapters/sqs/order-queues.ts';
import { parseOrderMessage } from '../../../../core/contracts/order-queue.ts';
import { defaultConfig } from '../../../../core/contracts/service-config.ts';
import { resendLagging } from '../../../../functions/scaler/resend.ts';
import { Planner } from '../../../../functions/scaler/scaler-pass.ts';
import { sqsOrderSender } from '../../../../functions/scaler/sqs-order-sender.ts';
import { aContainer, unadmitted } from '../../../support/containers.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS, sqsEndpoint, uniqueName } from '../../../support/env.ts';
import { FakeOrderSender } from '../../../support/fake-scaler-state.ts';
import { aHost, aRequest, spec } from '../../../support/planner-fixtures.ts';
import { seedHost } from '../../../support/scaler-seed.ts';

describe.each(DYNAMO_FLAVOURS)('resendLagging on %s with fauxqs', (flavour) => {
  let t: TestTable;
  let sqs: SQSClient;
  beforeAll(async () => {
    t = await createTestTable(flavour);
    sqs = createSqsClient({ endpoint: sqsEndpoint(), region: 'us-east-1' });
  });
  afterAll(async () => {
    sqs.destroy();
    await t.drop();
  });

  it('re-sends an order whose first send failed after the commit', async () => {
    const store = new ScalerStore(t.table);
    const host = uniqueName('rs');
    const { queueUrl } = await ensureHostQueues(sqs, host);
    await seedHost(
      store,
      aHost({ name: host, queueUrl }),
      [aContainer('rs-a', host, { resources: { cpu: spec(100, 100, 400) }, ...unadmitted() })],
      900_000,
    );
    const broken = new FakeOrderSender();
    broken.failing = true;
    const planner = new Planner({
      state: store,
      activity: store,
      orders: broken,
      config: () => defaultConfig('scaler'),
    });
    const out = await planner.submitDetailed([aRequest('rs-a', 'cpu', 100)], 1_000_000);
    expect(out).toMatchObject({ accepted: 1, unsent: 1 });

    const deps = {
      state: store,
      orders: sqsOrderSender(sqs),
      config: () => ({ RESEND_AFTER: 20, ORDER_TTL: 120 }),
    };
    expect((await resendLagging(deps, 1_000_000 + 20_000)).resent).toBe(0); // not yet lagging longer than 20 s
    const swept = await resendLagging(deps, 1_000_000 + 20_001);
    expect(swept.resent).toBe(1);
    const got = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    const orders = (got.Messages ?? []).map((m) => parseOrderMessage(m.Body));
    expect(orders.map((o) => [o.desiredVersion, o.limits.cpuShares])).toEqual([
      [2, 200], // desired v2: admitted at v1, then +100
    ]);
  });
});
