/**
 * Running a periodic operation from a scheduled invocation (EventBridge fires
 * at most once a minute):
 * - an inactive service (ACTIVE false) returns right after reading its config:
 *   no lease, no waiting;
 * - a period of at least the schedule's rate is one round per invocation
 *   (nothing to wait for: the schedule is the period);
 * - a shorter period loops: the operation runs, its period is waited out
 *   (re-read every round, so config changes apply at once), and the loop stops
 *   before the invocation's deadline — billed for the waiting, see docs/cost.md.
 * A lease keeps two overlapping invocations from running the same operation at once.
 */

import type { TableClient } from '../../adapters/dynamodb/table-client.ts';
import type { Logger } from '../../adapters/logger.ts';
import { keys } from '../../core/contracts/table-layout.ts';
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
  /** The service's ACTIVE flag and current period, ms (read from its config before each round). */
  schedule: () => Promise<{ active: boolean; periodMs: number }>;
  /** How often the invocation is scheduled, ms (default one minute, `rate(1 minute)`). */
  rateMs?: number;
  run: () => Promise<R>;
  /** Stop when less than this is left after the next period, ms. */
  marginMs?: number;
  signal?: AbortSignal;
}

export async function runPeriodically<R>(o: PeriodicOptions<R>): Promise<PeriodicResult<R>> {
  const margin = o.marginMs ?? 5_000;
  const rateMs = o.rateMs ?? 60_000;
  const first = await o.schedule();
  if (!first.active) {
    o.logger.debug({ op: o.name }, 'inactive (ACTIVE false); not running');
    return { rounds: 0, results: [], leased: false, active: false };
  }
  const start = o.clock.now();
  const deadline = start + o.remainingMs() - margin;
  if (!(await acquireLease(o.table, o.name, o.owner, start, deadline))) {
    o.logger.info({ lease: o.name }, 'another invocation holds the lease; not running');
    return { rounds: 0, results: [], leased: false, active: true };
  }
  const aborted = () => o.signal?.aborted === true;
  const results: R[] = [];
  let period = first.periodMs;
  let next = start;
  for (;;) {
    try {
      results.push(await o.run());
    } catch (err) {
      o.logger.error({ err, op: o.name }, 'round failed');
    }
    // A period of the schedule's rate or more: the next invocation runs the next round.
    if (period >= rateMs || aborted()) break;
    const now = await o.schedule();
    if (!now.active) break;
    period = now.periodMs;
    // On the period grid; a round that overran is not made up for: the next starts at once.
    next = Math.max(next + period, o.clock.now());
    if (next >= deadline || period >= rateMs) break;
    await o.clock.sleep(Math.max(0, next - o.clock.now()), o.signal);
    if (aborted()) break;
  }
  return { rounds: results.length, results, leased: true, active: true };
}

export interface PeriodicResult<R> {
  rounds: number;
  results: R[];
  /** This invocation held the lease (false: inactive, or another invocation runs the operation). */
  leased: boolean;
  /** The service's ACTIVE flag when the invocation started. */
  active: boolean;
}
