/**
 * The order consumer's lifecycle (after bbc/sqs-consumer): long-poll the host's
 * FIFO queue, hand each order to the use case, keep the message invisible while
 * it is applied, delete it only once the write is confirmed and reported, back
 * off on network and credential errors, and drain in-flight work on stop().
 */
import type { Logger } from '../adapters/logger.ts';
import type { ScaleOrder } from '../core/contracts/order.ts';
import { parseOrderMessage } from '../core/contracts/order-queue.ts';
import { ValidationError } from '../core/errors.ts';
import type { Clock } from '../core/ports/clock.ts';
import type { AgentQueueClient, SqsMessage as Message } from './aws/sqs.ts';
import type { Disposition } from './orders.ts';

export interface ConsumerOptions {
  queueUrl: string;
  /** Where malformed messages go at once (they can never become valid); null: only deleted. */
  dlqUrl: string | null;
  waitTimeS: number;
  visibilityTimeoutS: number;
  visibilityHeartbeatMs: number;
  unknownRetryS: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** How long stop() waits for in-flight orders before abandoning them (they come back later). */
  drainTimeoutMs: number;
}

export interface ConsumerDeps {
  sqs: AgentQueueClient;
  handle(order: ScaleOrder, signal: AbortSignal): Promise<Disposition>;
  clock: Clock;
  log: Logger;
}

export interface ConsumerStats {
  received: number;
  deleted: number;
  retried: number;
  malformed: number;
  receiveErrors: number;
}

export class OrderConsumer {
  private readonly d: ConsumerDeps;
  private readonly o: ConsumerOptions;
  private pollAbort = new AbortController();
  private workAbort = new AbortController();
  private loop: Promise<void> | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  readonly stats: ConsumerStats = { received: 0, deleted: 0, retried: 0, malformed: 0, receiveErrors: 0 };

  constructor(deps: ConsumerDeps, opts: ConsumerOptions) {
    this.d = deps;
    this.o = opts;
  }

  get running(): boolean {
    return this.loop !== null;
  }

  start(): void {
    if (this.loop !== null) return;
    this.pollAbort = new AbortController();
    this.workAbort = new AbortController();
    this.loop = this.pollLoop();
  }

  /** Stop polling, let in-flight orders finish (up to drainTimeoutMs), then return. */
  async stop(): Promise<void> {
    if (this.loop === null) return;
    const timer = setTimeout(() => this.workAbort.abort(), this.o.drainTimeoutMs);
    this.pollAbort.abort();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
    clearTimeout(timer);
    this.loop = null;
    this.d.log.info(this.stats, 'consumer stopped');
  }

  private async pollLoop(): Promise<void> {
    const signal = this.pollAbort.signal;
    let backoff = this.o.backoffMinMs;
    while (!signal.aborted) {
      let messages: Message[];
      try {
        messages = await this.d.sqs.receiveMessage(
          {
            QueueUrl: this.o.queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: this.o.waitTimeS,
            VisibilityTimeout: this.o.visibilityTimeoutS,
            MessageSystemAttributeNames: ['ApproximateReceiveCount', 'MessageGroupId'],
          },
          signal,
        );
        backoff = this.o.backoffMinMs;
      } catch (err) {
        if (signal.aborted) break;
        this.stats.receiveErrors++;
        const wait = Math.round(backoff * (0.5 + Math.random() / 2));
        this.d.log.warn(
          { err: (err as Error).message, name: (err as Error).name, retryInMs: wait },
          'receive failed; backing off',
        );
        await this.d.clock.sleep(wait, signal);
        backoff = Math.min(backoff * 2, this.o.backoffMaxMs);
        continue;
      }
      if (messages.length === 0) continue;
      this.stats.received += messages.length;
      // One chain per group (container): in order within a group, in parallel across groups.
      const groups = new Map<string, Message[]>();
      for (const m of messages) {
        const g = m.Attributes?.MessageGroupId ?? '';
        groups.set(g, [...(groups.get(g) ?? []), m]);
      }
      const batch: Promise<void>[] = [];
      for (const msgs of groups.values()) {
        const p = (async () => {
          for (const m of msgs) await this.process(m);
        })();
        this.inFlight.add(p);
        void p.finally(() => this.inFlight.delete(p));
        batch.push(p);
      }
      // FIFO hands out nothing more of these groups until they are done; wait so order holds.
      await Promise.allSettled(batch);
    }
  }

  private async process(m: Message): Promise<void> {
    const receipt = m.ReceiptHandle;
    if (receipt === undefined) return;
    let order: ScaleOrder;
    try {
      order = parseOrderMessage(m.Body);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      this.stats.malformed++;
      this.d.log.warn({ messageId: m.MessageId, err: err.message }, 'malformed order refused');
      await this.deadLetter(m, err.message);
      return;
    }
    const heartbeat = setInterval(() => {
      void this.d.sqs
        .changeMessageVisibility({
          QueueUrl: this.o.queueUrl,
          ReceiptHandle: receipt,
          VisibilityTimeout: this.o.visibilityTimeoutS,
        })
        .catch((err: unknown) =>
          this.d.log.warn({ err: (err as Error).message }, 'visibility heartbeat failed'),
        );
    }, this.o.visibilityHeartbeatMs);
    let disposition: Disposition;
    try {
      disposition = await this.d.handle(order, this.workAbort.signal);
    } catch (err) {
      // Transient trouble (or stop): the message stays and comes back after its visibility timeout.
      this.d.log.warn(
        { orderId: order.orderId, err: (err as Error).message },
        'order not finished; it will come back',
      );
      return;
    } finally {
      clearInterval(heartbeat);
    }
    if (disposition.kind === 'delete') {
      await this.deleteWithRetry(receipt, order.orderId);
      return;
    }
    this.stats.retried++;
    const receives = Number(m.Attributes?.ApproximateReceiveCount ?? '1');
    this.d.log.warn(
      { orderId: order.orderId, why: disposition.why, receives },
      'order will be retried (DLQ after the queue’s max receives)',
    );
    await this.d.sqs
      .changeMessageVisibility({
        QueueUrl: this.o.queueUrl,
        ReceiptHandle: receipt,
        VisibilityTimeout: this.o.unknownRetryS,
      })
      .catch(() => undefined);
  }

  private async deleteWithRetry(receipt: string, orderId: string): Promise<void> {
    let delay = this.o.backoffMinMs;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await this.d.sqs.deleteMessage({ QueueUrl: this.o.queueUrl, ReceiptHandle: receipt });
        this.stats.deleted++;
        return;
      } catch (err) {
        this.d.log.warn({ orderId, err: (err as Error).message }, 'delete failed; retrying');
        await this.d.clock.sleep(delay, this.workAbort.signal);
        delay = Math.min(delay * 2, this.o.backoffMaxMs);
      }
    }
    // Redelivery is harmless: the version check turns it into a no-op.
    this.d.log.error({ orderId }, 'could not delete an applied order; its redelivery will be a no-op');
  }

  private async deadLetter(m: Message, reason: string): Promise<void> {
    try {
      if (this.o.dlqUrl !== null) {
        await this.d.sqs.sendMessage({
          QueueUrl: this.o.dlqUrl,
          MessageBody: m.Body ?? '',
          MessageGroupId: m.Attributes?.MessageGroupId || 'malformed',
          MessageDeduplicationId: m.MessageId ?? `${Date.now()}`,
          MessageAttributes: { reason: { DataType: 'String', StringValue: reason.slice(0, 256) } },
        });
      }
      await this.deleteWithRetry(m.ReceiptHandle ?? '', 'malformed');
    } catch (err) {
      this.d.log.warn(
        { err: (err as Error).message },
        'could not dead-letter a malformed message; SQS redrive will',
      );
    }
  }
}
