import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createSqsClient } from '../../../../adapters/aws.ts';
import { ScalerStore } from '../../../../adapters/dynamodb/scaler-store.ts';
import { ensureHostQueues } from '../../../../adapters/sqs/order-queues.ts';
import type { HostState } from '../../../../core/contracts/host.ts';
import type { ScaleOrder } from '../../../../core/contracts/order.ts';
import { parseOrderMessage } from '../../../../core/contracts/order-queue.ts';
import type { ScaleRequest } from '../../../../core/contracts/request.ts';
import { defaultConfig } from '../../../../core/contracts/service-config.ts';
import { RESOURCES } from '../../../../core/contracts/units.ts';
import { accountingIssues } from '../../../../core/policy/planner/capacity.ts';
import { orderLimits } from '../../../../core/policy/planner/orders.ts';
import { Planner } from '../../../../functions/scaler/scaler-pass.ts';
import { sqsOrderSender } from '../../../../functions/scaler/sqs-order-sender.ts';
import { aContainer, unadmitted } from '../../../support/containers.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS, sqsEndpoint, uniqueName } from '../../../support/env.ts';
import { FakeOrderSender } from '../../../support/fake-scaler-state.ts';
import { aHost, spec } from '../../../support/planner-fixtures.ts';
import { seedHost } from '../../../support/scaler-seed.ts';

const config = () => defaultConfig('scaler');

async function drain(sqs: SQSClient, queueUrl: string, expected: number): Promise<ScaleOrder[]> {
  const got: ScaleOrder[] = [];
  for (let empty = 0; got.length < expected && empty < 5; ) {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    if ((out.Messages ?? []).length === 0) empty += 1;
    for (const m of out.Messages ?? []) {
      got.push(parseOrderMessage(m.Body));
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  }
  return got;
}

function req(
  id: string,
  structure: string,
  resource: ScaleRequest['resource'],
  amount: number,
  now: number,
): ScaleRequest {
  return {
    id,
    structure,
    structureType: 'container',
    resource,
    field: 'current',
    amount,
    priority: 0,
    timestamp: now,
    pairStructure: null,
    source: 'guardian',
    usage: null,
    reasons: [],
  };
}

describe.each(DYNAMO_FLAVOURS)('Planner on %s with fauxqs', (flavour) => {
  let t: TestTable;
  let store: ScalerStore;
  let sqs: SQSClient;
  beforeAll(async () => {
    t = await createTestTable(flavour);
    store = new ScalerStore(t.table);
    sqs = createSqsClient({ endpoint: sqsEndpoint(), region: 'us-east-1' });
  });
  afterAll(async () => {
    sqs.destroy();
    await t.drop();
  });

  it('turns requests into orders on the right host queues with increasing versions', async () => {
    const hosts = [uniqueName('ha'), uniqueName('hb')];
    const queues = new Map<string, string>();
    for (const [i, name] of hosts.entries()) {
      const { queueUrl } = await ensureHostQueues(sqs, name);
      queues.set(name, queueUrl);
      await seedHost(
        store,
        aHost({ name, queueUrl }),
        [0, 1].map((j) =>
          aContainer(`${name}-c${j}`, name, {
            resources: { cpu: spec(100, 100, 800), mem: spec(1024, 256, 8192) },
            ...unadmitted(),
          }),
        ),
        1000 + i,
      );
    }
    // The control tick's own clients (the planner runs inside it): calls recorded as its (IAM test).
    const own = t.as('controlTick');
    const ownSqs = createSqsClient({ endpoint: sqsEndpoint(), region: 'us-east-1', record: own.record });
    const ownStore = new ScalerStore(own.table);
    const planner = new Planner({
      state: ownStore,
      activity: ownStore,
      orders: sqsOrderSender(ownSqs),
      config,
    });
    const rounds: ScaleRequest[][] = [
      [req('1a', `${hosts[0]}-c0`, 'cpu', 100, 10_000), req('1b', `${hosts[1]}-c1`, 'mem', 512, 10_000)],
      [req('2a', `${hosts[0]}-c0`, 'cpu', 50, 11_000), req('2b', `${hosts[1]}-c1`, 'mem', -256, 11_000)],
      [req('3a', `${hosts[0]}-c0`, 'mem', 100, 12_000), req('3b', `${hosts[1]}-c0`, 'cpu', 300, 12_000)],
    ];
    for (const [i, batch] of rounds.entries()) {
      const out = await planner.submit(batch, 10_000 + i * 1000);
      expect(out).toEqual({ accepted: 2, rejected: [], orders: 2 });
    }
    for (const name of hosts) {
      const orders = await drain(sqs, queues.get(name) as string, 3);
      expect(orders.every((o) => o.host === name)).toBe(true);
      const stored = (await store.getHost(name)) as HostState;
      expect(accountingIssues(stored)).toEqual([]);
      for (const c of Object.values(stored.containers)) {
        const mine = orders.filter((o) => o.container === c.name);
        const versions = mine.map((o) => o.desiredVersion);
        expect(versions).toEqual([...versions].sort((a, b) => a - b)); // FIFO per container, increasing
        expect(new Set(versions).size).toBe(versions.length);
        const last = mine.at(-1);
        if (last !== undefined) {
          expect(last.desiredVersion).toBe(c.desiredVersion);
          expect(last.limits).toEqual(orderLimits(c, stored.cpuPlacement));
        }
      }
    }
    const h0 = (await store.getHost(hosts[0] as string)) as HostState;
    expect(h0.containers[`${hosts[0]}-c0`]?.resources.cpu?.current).toBe(250); // 100 + 100 + 50
    expect(h0.containers[`${hosts[0]}-c0`]?.desiredVersion).toBe(4); // admitted v1, then 3 orders
    ownSqs.destroy();
  });

  it('keeps host accounting exact when several planners race on the same hosts', async () => {
    const hosts = [uniqueName('ra'), uniqueName('rb')];
    const names: string[] = [];
    for (const name of hosts) {
      const cs = [0, 1, 2, 3].map((j) =>
        aContainer(`${name}-c${j}`, name, {
          resources: {
            cpu: spec(100, 50, 600),
            mem: spec(1024, 256, 6000),
            disk_read: spec(50, 5, 300),
            disk_write: spec(50, 5, 300),
            net: spec(100, 10, 600),
          },
          ...unadmitted(),
        }),
      );
      names.push(...cs.map((c) => c.name));
      await seedHost(store, aHost({ name, memMiB: 8192, netMbps: 1000, queueUrl: `q-${name}` }), cs, 1000);
    }
    const senders = [0, 1, 2, 3].map(() => new FakeOrderSender());
    const planners = senders.map(
      (orders) => new Planner({ state: store, activity: store, orders, config, maxRetries: 50 }),
    );
    const batchArb = fc.array(
      fc.record({
        name: fc.constantFrom(...names),
        resource: fc.constantFrom(...RESOURCES),
        amount: fc.integer({ min: -400, max: 600 }).filter((n) => n !== 0),
      }),
      { minLength: 3, maxLength: 8 },
    );
    const batches = fc.sample(batchArb, { numRuns: 4 * 5, seed: flavour.length });
    let retries = 0;
    let rejectedForRaces = 0;
    for (let round = 0; round < 5; round++) {
      const now = 20_000 + round * 1000;
      const outs = await Promise.all(
        planners.map((p, i) =>
          p.submitDetailed(
            (batches[round * 4 + i] ?? []).map((b, k) =>
              req(`p${i}r${round}k${k}`, b.name, b.resource, b.amount, now),
            ),
            now,
          ),
        ),
      );
      for (const o of outs) {
        retries += o.retries;
        rejectedForRaces += o.rejected.filter((r) => r.reason.includes('too often')).length;
      }
    }
    expect(retries).toBeGreaterThan(0); // the planners did collide
    expect(rejectedForRaces).toBe(0);
    const allOrders = senders.flatMap((s) => s.sent.map((x) => x.order));
    for (const name of hosts) {
      const stored = (await store.getHost(name)) as HostState;
      expect(accountingIssues(stored)).toEqual([]); // free = capacity − Σ allocations, nothing negative
      for (const c of Object.values(stored.containers)) {
        const mine = allOrders.filter((o) => o.container === c.name);
        // no lost update: every committed version was issued exactly once, the last one is the stored state
        expect(new Set(mine.map((o) => o.desiredVersion)).size).toBe(mine.length);
        expect(Math.max(1, ...mine.map((o) => o.desiredVersion))).toBe(c.desiredVersion);
      }
    }
  });
});
