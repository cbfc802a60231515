/**
 * Running a periodic operation inside one scheduled invocation: EventBridge
 * fires at most once a minute, the operations' periods are seconds. The loop
 * runs the operation, waits out its period (re-read every round, so config
 * changes apply at once), and stops before the invocation's deadline. A lease
 * keeps two overlapping invocations from running the same operation at once.
 */
import { keys } from '../../adapters/dynamodb/table.ts';
import type { TableClient } from '../../adapters/dynamodb/table-client.ts';
import type { Logger } from '../../adapters/logger.ts';
import { StaleStateError } from '../../core/errors.ts';
import type { Clock } from '../../core/ports/clock.ts';

/** Take the lease `name` until `untilMs` unless another owner holds an unexpired one. */
export async function acquireLease(
  table: TableClient,
  name: string,
  owner: string,
  now: number,
  untilMs: number,
): Promise<boolean> {
  try {
    await table.putIf(
      { ...keys.lease(name), owner, expiresAt: untilMs },
      {
        expression: 'attribute_not_exists(pk) OR expiresAt < :now OR #o = :owner',
        names: { '#o': 'owner' },
        values: { ':now': now, ':owner': owner },
      },
      `lease ${name}`,
    );
    return true;
  } catch (err) {
    if (err instanceof StaleStateError) return false;
    throw err;
  }
}

export interface PeriodicOptions<R> {
  name: string;
  owner: string;
  table: TableClient;
  clock: Clock;
  logger: Logger;
  /** Milliseconds left in the invocation. */
  remainingMs: () => number;
  /** The current period, ms (read from the service config each round). */
  periodMs: () => Promise<number>;
  run: () => Promise<R>;
  /** Stop when less than this is left after the next period, ms. */
  marginMs?: number;
  signal?: AbortSignal;
}

export async function runPeriodically<R>(
  o: PeriodicOptions<R>,
): Promise<{ rounds: number; results: R[]; leased: boolean }> {
  const margin = o.marginMs ?? 5_000;
  const start = o.clock.now();
  const deadline = start + o.remainingMs() - margin;
  if (!(await acquireLease(o.table, o.name, o.owner, start, deadline))) {
    o.logger.info({ lease: o.name }, 'another invocation holds the lease; not running');
    return { rounds: 0, results: [], leased: false };
  }
  const results: R[] = [];
  let next = start;
  for (;;) {
    try {
      results.push(await o.run());
    } catch (err) {
      o.logger.error({ err, op: o.name }, 'round failed');
    }
    const period = await o.periodMs();
    // On the period grid; a round that overran is not made up for: the next starts at once.
    next = Math.max(next + period, o.clock.now());
    if (next >= deadline || o.signal?.aborted === true) break;
    await o.clock.sleep(Math.max(0, next - o.clock.now()), o.signal);
  }
  return { rounds: results.length, results, leased: true };
}
