import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createSqsClient } from '../../../../adapters/aws.ts';
import { deleteHostQueues, ensureHostQueues, sendOrder } from '../../../../adapters/sqs/order-queues.ts';
import { hostQueueNames } from '../../../../core/contracts/order-queue.ts';
import { LiteSqs } from '../../../../host-agent/aws/sqs.ts';
import { sqsEndpoint, uniqueName } from '../../../support/env.ts';

describe('the agent’s own SQS client on fauxqs', () => {
  const sdk = createSqsClient({ endpoint: sqsEndpoint(), region: 'us-east-1' });
  const lite = new LiteSqs({ endpoint: sqsEndpoint(), region: 'us-east-1' });
  const host = uniqueName('h');
  let queues: Awaited<ReturnType<typeof ensureHostQueues>>;

  beforeAll(async () => {
    queues = await ensureHostQueues(sdk, host, { visibilityTimeoutS: 5 });
  });

  afterAll(async () => {
    await deleteHostQueues(sdk, host);
    sdk.destroy();
    lite.destroy();
  });

  it('finds the host’s queues by name, and answers null for a missing one', async () => {
    const names = hostQueueNames(host);
    expect(await lite.getQueueUrl(names.queue)).toBe(queues.queueUrl);
    expect(await lite.getQueueUrl(names.dlq)).toBe(queues.dlqUrl);
    expect(await lite.getQueueUrl('sc-nobody-here.fifo')).toBeNull();
  });

  it('counts the HTTP bytes it sends and receives (what a host outside AWS exchanges)', async () => {
    const before = { ...lite.httpBytes };
    const url = await lite.getQueueUrl(hostQueueNames(host).queue);
    const sent = lite.httpBytes.sent - before.sent;
    const received = lite.httpBytes.received - before.received;
    // at least the JSON body each way ({"QueueName":…} out, {"QueueUrl":…} back) plus the signed headers
    expect(sent).toBeGreaterThan(JSON.stringify({ QueueName: hostQueueNames(host).queue }).length + 200);
    expect(received).toBeGreaterThan(JSON.stringify({ QueueUrl: url }).length);
    expect(received).toBeLessThan(2000);
  });

  it('receives an order the SDK sent, with its group and receive count, then deletes it', async () => {
    const now = Date.now();
    await sendOrder(sdk, queues.queueUrl, {
      kind: 'scale-order',
      orderId: 'c1@2',
      host,
      container: 'c1',
      desiredVersion: 2,
      issuedAt: now,
      expiresAt: now + 60_000,
      limits: { cpuShares: 50 },
      reasons: [],
    });
    const input = {
      QueueUrl: queues.queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 1,
      VisibilityTimeout: 5,
      MessageSystemAttributeNames: ['ApproximateReceiveCount', 'MessageGroupId'],
    };
    const [m] = await lite.receiveMessage(input);
    expect(JSON.parse(m?.Body ?? '{}')).toMatchObject({ orderId: 'c1@2' });
    expect(m?.Attributes).toMatchObject({ MessageGroupId: 'c1', ApproximateReceiveCount: '1' });
    await lite.changeMessageVisibility({
      QueueUrl: queues.queueUrl,
      ReceiptHandle: m?.ReceiptHandle ?? '',
      VisibilityTimeout: 0,
    });
    const [again] = await lite.receiveMessage(input);
    expect(again?.Attributes?.ApproximateReceiveCount).toBe('2');
    await lite.deleteMessage({ QueueUrl: queues.queueUrl, ReceiptHandle: again?.ReceiptHandle ?? '' });
    expect(await lite.receiveMessage({ ...input, WaitTimeSeconds: 0 })).toEqual([]);
  });

  it('sends to the dead-letter queue with a reason attribute', async () => {
    const id = await lite.sendMessage({
      QueueUrl: queues.dlqUrl,
      MessageBody: 'not json',
      MessageGroupId: 'malformed',
      MessageDeduplicationId: uniqueName('d'),
      MessageAttributes: { reason: { DataType: 'String', StringValue: 'body is not JSON' } },
    });
    expect(typeof id).toBe('string');
    const [m] = await lite.receiveMessage({
      QueueUrl: queues.dlqUrl,
      MaxNumberOfMessages: 1,
      WaitTimeSeconds: 1,
      VisibilityTimeout: 5,
      MessageSystemAttributeNames: [],
    });
    expect(m?.Body).toBe('not json');
  });

  it('stops a long poll when its signal aborts', async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 200);
    await expect(
      lite.receiveMessage(
        {
          QueueUrl: queues.queueUrl,
          MaxNumberOfMessages: 1,
          WaitTimeSeconds: 10,
          VisibilityTimeout: 5,
          MessageSystemAttributeNames: [],
        },
        ac.signal,
      ),
    ).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});
