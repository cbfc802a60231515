/**
 * One FIFO queue of scale orders per host, with its dead-letter queue: the SQS
 * side. Queue names and the message codec (group = container, dedup id =
 * orderId, validated both ways) are the contract in core/contracts/order-queue.ts,
 * shared with the host agent.
 */
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { hostQueueNames, orderMessage } from '../../core/contracts/order-queue.ts';

export interface HostQueueOptions {
  prefix?: string;
  /** Receives before a message goes to the DLQ. */
  maxReceiveCount?: number;
  visibilityTimeoutS?: number;
}

export interface HostQueues {
  queueUrl: string;
  dlqUrl: string;
  dlqArn: string;
}

/** Create (or find) the host's order queue and its DLQ. Idempotent. */
export async function ensureHostQueues(
  sqs: SQSClient,
  host: string,
  opts: HostQueueOptions = {},
): Promise<HostQueues> {
  const names = hostQueueNames(host, opts.prefix);
  const dlq = await sqs.send(
    new CreateQueueCommand({
      QueueName: names.dlq,
      Attributes: { FifoQueue: 'true', MessageRetentionPeriod: String(14 * 24 * 3600) },
    }),
  );
  const dlqUrl = required(dlq.QueueUrl, 'DLQ url');
  const attrs = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }),
  );
  const dlqArn = required(attrs.Attributes?.QueueArn, 'DLQ arn');
  const main = await sqs.send(
    new CreateQueueCommand({
      QueueName: names.queue,
      Attributes: {
        FifoQueue: 'true',
        ContentBasedDeduplication: 'false',
        VisibilityTimeout: String(opts.visibilityTimeoutS ?? 30),
        ReceiveMessageWaitTimeSeconds: '20',
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlqArn,
          maxReceiveCount: opts.maxReceiveCount ?? 5,
        }),
      },
    }),
  );
  return { queueUrl: required(main.QueueUrl, 'queue url'), dlqUrl, dlqArn };
}

/** Messages waiting on a queue (ApproximateNumberOfMessages: the visible ones): a host's dead-lettered orders on its DLQ. */
export async function visibleMessages(sqs: SQSClient, queueUrl: string): Promise<number> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages'],
    }),
  );
  const n = Number(out.Attributes?.ApproximateNumberOfMessages);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${queueUrl}: no ApproximateNumberOfMessages`);
  return n;
}

export async function hostQueueUrl(sqs: SQSClient, host: string, prefix?: string): Promise<string | null> {
  try {
    const out = await sqs.send(new GetQueueUrlCommand({ QueueName: hostQueueNames(host, prefix).queue }));
    return out.QueueUrl ?? null;
  } catch (err) {
    if (err instanceof QueueDoesNotExist || (err instanceof Error && err.name.includes('NonExistentQueue')))
      return null;
    throw err;
  }
}

export async function deleteHostQueues(sqs: SQSClient, host: string, prefix?: string): Promise<void> {
  const names = hostQueueNames(host, prefix);
  for (const name of [names.queue, names.dlq]) {
    try {
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
      if (QueueUrl !== undefined) await sqs.send(new DeleteQueueCommand({ QueueUrl }));
    } catch (err) {
      if (
        !(err instanceof QueueDoesNotExist || (err instanceof Error && err.name.includes('NonExistentQueue')))
      )
        throw err;
    }
  }
}

/** Validate and send one order; returns the SQS message id. */
export async function sendOrder(sqs: SQSClient, queueUrl: string, order: unknown): Promise<string> {
  const message = orderMessage(order);
  const out = await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: message.body,
      MessageGroupId: message.groupId,
      MessageDeduplicationId: message.dedupId,
    }),
  );
  return required(out.MessageId, 'message id');
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`SQS answered without ${what}`);
  return value;
}
