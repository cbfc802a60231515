import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { ScaleOrder } from '../../core/contracts/order.ts';
import { parseOrThrow } from '../../core/errors.ts';
import type { OrderSender } from './ports.ts';

/** SQS accepts at most 10 messages per SendMessageBatch. */
const BATCH = 10;

/**
 * OrderSender on the hosts' SQS FIFO queues (group = container, dedup id =
 * order id), ten orders per request. Orders are validated before sending.
 */
export function sqsOrderSender(sqs: SQSClient): OrderSender {
  return {
    async send(queueUrl, orders) {
      let sent = 0;
      let failed = 0;
      for (let i = 0; i < orders.length; i += BATCH) {
        const chunk = orders.slice(i, i + BATCH).map((o) => parseOrThrow(ScaleOrder, o, 'order'));
        try {
          const out = await sqs.send(
            new SendMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: chunk.map((o, k) => ({
                Id: String(k),
                MessageBody: JSON.stringify(o),
                MessageGroupId: o.container,
                MessageDeduplicationId: o.orderId,
              })),
            }),
          );
          sent += out.Successful?.length ?? 0;
          failed += out.Failed?.length ?? 0;
        } catch {
          failed += chunk.length;
        }
      }
      return { sent, failed };
    },
  };
}
