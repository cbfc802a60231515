import type { SQSClient } from '@aws-sdk/client-sqs';
import { sendOrder } from '../../adapters/sqs/order-queues.ts';
import type { ScaleOrder } from '../../core/contracts/order.ts';
import type { OrderSender } from './ports.ts';

/** OrderSender on the hosts' SQS FIFO queues (group = container, dedup id = order id). */
export function sqsOrderSender(sqs: SQSClient): OrderSender {
  return {
    send: async (queueUrl: string, order: ScaleOrder) => {
      await sendOrder(sqs, queueUrl, order);
    },
  };
}
