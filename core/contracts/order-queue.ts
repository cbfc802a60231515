/**
 * The order queue contract shared by the functions (which send) and the host
 * agent (which receives): one FIFO queue per host with its dead-letter queue,
 * named from the host; one message per order, group = container (orders of one
 * container stay in order), dedup id = orderId. Orders are validated on the way
 * in and on the way out. No SDK here: adapters/sqs/order-queues.ts sends.
 */
import { parseOrThrow, ValidationError } from '../errors.ts';
import { ScaleOrder } from './order.ts';

export const DEFAULT_QUEUE_PREFIX = 'sc-';

export function hostQueueNames(host: string, prefix = DEFAULT_QUEUE_PREFIX): { queue: string; dlq: string } {
  // SQS names: ≤ 80 chars of [A-Za-z0-9_-], FIFO ones end in .fifo. Host names may hold '.', which SQS refuses.
  const safe = host.replace(/\./g, '_');
  const queue = `${prefix}${safe}.fifo`;
  const dlq = `${prefix}${safe}-dlq.fifo`;
  if (dlq.length > 80)
    throw new ValidationError('host', [{ path: 'name', message: `too long for a queue name (${dlq})` }]);
  return { queue, dlq };
}

/**
 * The URL of a host's dead-letter queue from its order queue's URL (same account and region; the
 * names differ as hostQueueNames makes them). Null for a URL that is not a host's FIFO queue.
 */
export function deadLetterQueueUrl(queueUrl: string): string | null {
  if (!queueUrl.endsWith('.fifo') || queueUrl.endsWith('-dlq.fifo')) return null;
  return `${queueUrl.slice(0, -'.fifo'.length)}-dlq.fifo`;
}

/** What is sent for one order: its body and FIFO attributes. Throws ValidationError naming the field. */
export interface OrderMessage {
  body: string;
  groupId: string;
  dedupId: string;
}

export function orderMessage(order: unknown): OrderMessage {
  const valid = parseOrThrow(ScaleOrder, order, 'order');
  return { body: JSON.stringify(valid), groupId: valid.container, dedupId: valid.orderId };
}

/** Parse a received message body into an order, or throw ValidationError naming the field. */
export function parseOrderMessage(body: string | undefined): ScaleOrder {
  let json: unknown;
  try {
    json = JSON.parse(body ?? '');
  } catch (err) {
    throw new ValidationError('order', [{ path: '', message: 'body is not JSON' }], { cause: err });
  }
  return parseOrThrow(ScaleOrder, json, 'order');
}
