/**
 * Orders the agents dead-lettered: each host's order queue has a dead-letter queue (created by the
 * API with the host, so not in the stack), where an order lands after its receives run out. The
 * sanity sweep counts what waits there (ApproximateNumberOfMessages) and emits the total as
 * `OrdersDeadLettered`, which serverless.yml alarms on.
 */
import type { HostView } from '../../adapters/dynamodb/fleet.ts';
import type { Logger } from '../../adapters/logger.ts';
import { deadLetterQueueUrl } from '../../core/contracts/order-queue.ts';
import { mapLimit } from '../../core/map-limit.ts';

/**
 * Whether the sweep at `nowMs` counts the dead-letter queues: the first sweep past each multiple of
 * `periodS` (the previous one ran `pollingS` earlier), so the count costs one request per host
 * every period, whatever the sweep's own cadence.
 */
export function deadLetterCountDue(nowMs: number, periodS: number, pollingS: number): boolean {
  const slot = (t: number) => Math.floor(t / (periodS * 1000));
  return pollingS >= periodS || slot(nowMs) !== slot(nowMs - pollingS * 1000);
}

/** Messages visible on a dead-letter queue (adapters/sqs/order-queues.ts visibleMessages). */
export type DeadLetterCount = (dlqUrl: string) => Promise<number>;

export interface DeadLettered {
  /** Orders waiting on the hosts' dead-letter queues, all hosts together. */
  total: number;
  /** Hosts with orders waiting, and how many. */
  byHost: Record<string, number>;
  /** Hosts whose dead-letter queue could not be read (logged; not in the total). */
  unread: string[];
}

/** Reads every host's dead-letter queue, 8 at a time; a failed read is logged and the host named in `unread`. */
export async function countDeadLettered(
  hosts: readonly HostView[],
  count: DeadLetterCount,
  logger: Logger,
): Promise<DeadLettered> {
  const out: DeadLettered = { total: 0, byHost: {}, unread: [] };
  await mapLimit(hosts, 8, async (h) => {
    const dlq = h.state.queueUrl === null ? null : deadLetterQueueUrl(h.state.queueUrl);
    if (dlq === null) return;
    try {
      const n = await count(dlq);
      out.total += n;
      if (n > 0) out.byHost[h.state.name] = n;
    } catch (err) {
      out.unread.push(h.state.name);
      logger.error({ err, host: h.state.name, dlq }, 'dead-letter queue not read');
    }
  });
  if (out.total > 0)
    logger.warn(
      { deadLettered: out.byHost },
      `${out.total} order(s) dead-lettered on ${Object.keys(out.byHost).length} host(s): the agents could not apply them (the orders wait on each host's -dlq.fifo queue)`,
    );
  return out;
}
