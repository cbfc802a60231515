/**
 * The Guardian's cadence inside one scheduled invocation: a tick every
 * WINDOW_TIMELAPSE seconds, on multiples of the window (no drift), until
 * shortly before the invocation's deadline, holding a lease so two
 * invocations never tick at once. A late or duplicate invocation finds the
 * lease held and exits — or, with `waitForLeaseMs`, waits for it: the
 * invocation scheduled while the previous one is still finishing (timeout
 * longer than the rate) takes over as soon as the lease is released, so the
 * cadence has no gap. On the way out the states kept in memory are
 * checkpointed, then the lease is released so the next invocation starts at once.
 */

import type { TableClient } from '../../adapters/dynamodb/table-client.ts';
import { defaultConfig } from '../../core/contracts/service-config.ts';
import { keys } from '../../core/contracts/table-layout.ts';
import { StaleStateError } from '../../core/errors.ts';
import type { Clock } from '../../core/ports/clock.ts';
import { loadConfig } from './state.ts';
import { checkpoint, runTick, type TickDeps, type TickMemory, type TickReport } from './tick.ts';

export const LEASE_NAME = 'control-tick';

export interface RunTicksDeps extends TickDeps {
  clock: Clock;
  /** Unique per invocation (e.g. the Lambda request id). */
  owner: string;
}

export interface RunTicksOptions {
  /** Epoch ms by which the invocation must have returned. */
  deadlineMs: number;
  /** Kept free before the deadline, ms (plus the longest tick seen). */
  reserveMs?: number;
  /** How long to wait for a lease held by another invocation before exiting, ms (default 0). */
  waitForLeaseMs?: number;
  signal?: AbortSignal;
}

export interface RunTicksResult {
  ticks: number;
  stopped: 'deadline' | 'lease-held' | 'lease-lost' | 'aborted';
  reports: TickReport[];
}

/** Take or renew the lease until `expiresAt`; false when another owner holds a live one. */
export async function takeLease(
  table: TableClient,
  owner: string,
  now: number,
  expiresAt: number,
): Promise<boolean> {
  try {
    await table.putIf(
      { ...keys.lease(LEASE_NAME), owner, expiresAt },
      {
        expression: 'attribute_not_exists(pk) OR expiresAt <= :now OR #o = :me',
        names: { '#o': 'owner' },
        values: { ':now': now, ':me': owner },
      },
      'lease control-tick',
    );
    return true;
  } catch (err) {
    if (err instanceof StaleStateError) return false;
    throw err;
  }
}

async function releaseLease(table: TableClient, owner: string): Promise<void> {
  try {
    await table.putIf(
      { ...keys.lease(LEASE_NAME), owner, expiresAt: 0 },
      { expression: '#o = :me', names: { '#o': 'owner' }, values: { ':me': owner } },
      'lease control-tick',
    );
  } catch (err) {
    if (!(err instanceof StaleStateError)) throw err;
  }
}

export async function runTicks(deps: RunTicksDeps, opts: RunTicksOptions): Promise<RunTicksResult> {
  const { clock, table, owner, logger } = deps;
  const reserve = opts.reserveMs ?? 1000;
  const memory: TickMemory = { config: defaultConfig('guardian') };
  const reports: TickReport[] = [];
  let longest = 0;
  let windowMs = memory.config.WINDOW_TIMELAPSE * 1000;
  let stopped: RunTicksResult['stopped'] = 'deadline';

  // Hold the lease until one window past our deadline at most: a crash frees it by then.
  const leaseUntil = (at: number) => Math.min(at + 2 * windowMs, opts.deadlineMs + windowMs);
  const waitUntil = clock.now() + (opts.waitForLeaseMs ?? 0);
  while (!(await takeLease(table, owner, clock.now(), leaseUntil(clock.now())))) {
    const pollMs = Math.min(250, windowMs);
    if (
      opts.signal?.aborted ||
      clock.now() + pollMs > waitUntil ||
      clock.now() + pollMs + reserve > opts.deadlineMs
    ) {
      logger.info({ owner }, 'another invocation holds the control-tick lease; exiting');
      return { ticks: 0, stopped: opts.signal?.aborted ? 'aborted' : 'lease-held', reports };
    }
    await clock.sleep(pollMs, opts.signal);
  }
  try {
    // The window sets the cadence: read it before planning the first tick.
    memory.config = (await loadConfig(table, memory.config)).config;
    windowMs = memory.config.WINDOW_TIMELAPSE * 1000;
    let next = Math.ceil(clock.now() / windowMs) * windowMs;
    for (;;) {
      if (opts.signal?.aborted) {
        stopped = 'aborted';
        break;
      }
      if (next + longest + reserve > opts.deadlineMs) break;
      await clock.sleep(Math.max(0, next - clock.now()), opts.signal);
      if (opts.signal?.aborted) {
        stopped = 'aborted';
        break;
      }
      if (!(await takeLease(table, owner, clock.now(), leaseUntil(next)))) {
        logger.warn({ owner }, 'control-tick lease lost; exiting');
        stopped = 'lease-lost';
        break;
      }
      const started = clock.now();
      const report = await runTick(deps, next, memory);
      reports.push(report);
      longest = Math.max(longest, clock.now() - started);
      windowMs = memory.config.WINDOW_TIMELAPSE * 1000;
      // The next multiple of the window after now: an overrun skips ticks instead of drifting.
      next = Math.max(next + windowMs, Math.ceil((clock.now() + 1) / windowMs) * windowMs);
    }
  } finally {
    if (stopped !== 'lease-lost') {
      // Still the only Guardian: persist the events and decisions kept in memory, so the next
      // invocation resumes them, then let it start. (A lost lease means another invocation owns
      // the structures now; its conditional writes win, ours would only conflict.)
      try {
        const saved = await checkpoint(deps, memory);
        logger.info({ owner, ...saved }, 'guardian checkpoint');
      } catch (err) {
        logger.error(
          { err, owner },
          'guardian checkpoint failed; the next invocation resumes from the last stored states',
        );
      }
      await releaseLease(table, owner);
    }
  }
  return { ticks: reports.length, stopped, reports };
}
