import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createSqsClient } from '../../../../adapters/aws.ts';
import { ensureHostQueues, sendOrder } from '../../../../adapters/sqs/order-queues.ts';
import { orderId, type ScaleOrder } from '../../../../core/contracts/order.ts';
import { parseOrderMessage } from '../../../../core/contracts/order-queue.ts';
import { ValidationError } from '../../../../core/errors.ts';
import { sqsEndpoint, uniqueName } from '../../../support/env.ts';

function anOrder(container: string, version: number, host: string): ScaleOrder {
  return {
    kind: 'scale-order',
    orderId: orderId(container, version),
    host,
    container,
    desiredVersion: version,
    issuedAt: 1_000,
    expiresAt: 61_000,
    limits: { cpuShares: 100 * version },
    reasons: [],
  };
}

describe('host order queues on fauxqs', () => {
  let sqs: SQSClient;
  beforeAll(() => {
    sqs = createSqsClient({ endpoint: sqsEndpoint(), region: 'us-east-1' });
  });
  afterAll(() => sqs.destroy());

  it('creates the queues idempotently', async () => {
    const host = uniqueName('h');
    const a = await ensureHostQueues(sqs, host);
    const b = await ensureHostQueues(sqs, host);
    expect(b.queueUrl).toBe(a.queueUrl);
    expect(a.dlqUrl).not.toBe(a.queueUrl);
  });

  it('keeps each container’s orders in version order', async () => {
    const host = uniqueName('h');
    const { queueUrl } = await ensureHostQueues(sqs, host);
    for (let v = 1; v <= 5; v++) await sendOrder(sqs, queueUrl, anOrder('c1', v, host));
    const seen: number[] = [];
    while (seen.length < 5) {
      const out = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      for (const m of out.Messages ?? []) {
        seen.push(parseOrderMessage(m.Body).desiredVersion);
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
      }
    }
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });

  it('moves a message to the DLQ after the maximum receives', async () => {
    const host = uniqueName('h');
    const { queueUrl, dlqUrl } = await ensureHostQueues(sqs, host, {
      maxReceiveCount: 2,
      visibilityTimeoutS: 1,
    });
    await sendOrder(sqs, queueUrl, anOrder('c1', 1, host));
    for (let i = 0; i < 2; i++) {
      const out = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 2, VisibilityTimeout: 0 }),
      );
      expect(out.Messages).toHaveLength(1);
    }
    // The receive after the last allowed one moves the message to the DLQ instead of delivering it.
    const main = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1 }));
    expect(main.Messages ?? []).toHaveLength(0);
    const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 1 }));
    expect(parseOrderMessage(dead.Messages?.[0]?.Body).orderId).toBe('c1.v1');
  });

  it('refuses to send a malformed order, naming the field', async () => {
    const host = uniqueName('h');
    const { queueUrl } = await ensureHostQueues(sqs, host);
    const bad = { ...anOrder('c1', 1, host), container: '../etc' };
    const err = await sendOrder(sqs, queueUrl, bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe('container');
  });
});
