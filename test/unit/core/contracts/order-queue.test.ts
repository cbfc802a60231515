import { describe, expect, it } from '@jest/globals';
import { orderId, type ScaleOrder } from '../../../../core/contracts/order.ts';
import {
  DEFAULT_QUEUE_PREFIX,
  deadLetterQueueUrl,
  hostQueueNames,
  orderMessage,
  parseOrderMessage,
} from '../../../../core/contracts/order-queue.ts';
import { ValidationError } from '../../../../core/errors.ts';

const order: ScaleOrder = {
  kind: 'scale-order',
  orderId: orderId('c1', 3),
  host: 'h1',
  container: 'c1',
  desiredVersion: 3,
  issuedAt: 1_000,
  expiresAt: 61_000,
  limits: { cpuShares: 300 },
  reasons: [],
};

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err.field;
    throw err;
  }
  throw new Error('did not throw');
}

describe('hostQueueNames', () => {
  it('names the FIFO queue and its DLQ from the host, dots made underscores', () => {
    expect(hostQueueNames('node-1.lab')).toEqual({
      queue: `${DEFAULT_QUEUE_PREFIX}node-1_lab.fifo`,
      dlq: `${DEFAULT_QUEUE_PREFIX}node-1_lab-dlq.fifo`,
    });
    expect(hostQueueNames('h1', 'x-')).toEqual({ queue: 'x-h1.fifo', dlq: 'x-h1-dlq.fifo' });
  });
  it('refuses a host whose DLQ name would pass 80 characters', () => {
    // 'sc-' (3) + host + '-dlq.fifo' (9): 68 characters of host make 80, 69 make 81.
    expect(hostQueueNames('h'.repeat(68)).dlq).toHaveLength(80);
    expect(() => hostQueueNames('h'.repeat(69))).toThrow(ValidationError);
  });
});

describe('order messages', () => {
  it('group by container and deduplicate by order id; the body reads back as the order', () => {
    const m = orderMessage(order);
    expect(m.groupId).toBe('c1');
    expect(m.dedupId).toBe('c1.v3');
    expect(parseOrderMessage(m.body)).toEqual(order);
  });
  it('refuse a malformed order on the way in and on the way out, naming the field', () => {
    expect(fieldOf(() => orderMessage({ ...order, container: '../etc' }))).toBe('container');
    expect(fieldOf(() => parseOrderMessage(JSON.stringify({ ...order, desiredVersion: -1 })))).toBe(
      'desiredVersion',
    );
    expect(() => parseOrderMessage('not json')).toThrow('body is not JSON');
    expect(() => parseOrderMessage(undefined)).toThrow(ValidationError);
  });
});

describe('deadLetterQueueUrl', () => {
  it('names the host’s dead-letter queue beside its order queue, as hostQueueNames does', () => {
    const names = hostQueueNames('node-1.lab', 'sc-prod-');
    const base = 'https://sqs.eu-west-1.amazonaws.com/123456789012/';
    expect(deadLetterQueueUrl(base + names.queue)).toBe(base + names.dlq);
  });

  it('refuses a URL that is not a host’s order queue (not FIFO, or already a DLQ)', () => {
    expect(deadLetterQueueUrl('https://sqs.eu-west-1.amazonaws.com/1/sc-clock')).toBeNull();
    expect(deadLetterQueueUrl('https://sqs.eu-west-1.amazonaws.com/1/sc-h1-dlq.fifo')).toBeNull();
  });
});
