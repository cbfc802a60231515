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

import { defaultConfig } from '../../core/contracts/service-config.ts';
import type { Clock } from '../../core/ports/clock.ts';
import type { GuardianState, TickLease } from '../../core/ports/guardian-state.ts';
import { beatIfDue, checkpoint, runTick, type TickDeps, type TickMemory, type TickReport } from './tick.ts';

/** Logged once per invocation of the invocation clock when the config asks for shards. */
export const SHARDS_NEED_QUEUE_CLOCK =
  'SHARDS_MAX > 1 needs the chained clock: deploy with --param controlClock=queue (SC_CONTROL_CLOCK=queue) or set SHARDS_MAX 1; this invocation ticks the whole fleet unsharded';

export interface RunTicksDeps extends TickDeps {
  state: GuardianState & TickLease;
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

export async function runTicks(deps: RunTicksDeps, opts: RunTicksOptions): Promise<RunTicksResult> {
  const { clock, state, owner, logger } = deps;
  const reserve = opts.reserveMs ?? 1000;
  const memory: TickMemory = { config: defaultConfig('guardian') };
  const reports: TickReport[] = [];
  let longest = 0;
  let windowMs = memory.config.WINDOW_TIMELAPSE * 1000;
  let stopped: RunTicksResult['stopped'] = 'deadline';

  // Hold the lease until one window past our deadline at most: a crash frees it by then.
  const leaseUntil = (at: number) => Math.min(at + 2 * windowMs, opts.deadlineMs + windowMs);
  const waitUntil = clock.now() + (opts.waitForLeaseMs ?? 0);
  while (!(await state.takeLease(owner, clock.now(), leaseUntil(clock.now())))) {
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
    memory.config = (await state.loadConfig(memory.config)).config;
    windowMs = memory.config.WINDOW_TIMELAPSE * 1000;
    if (memory.config.SHARDS_MAX > 1) {
      // Shards are clock chains (docs/shards.md): this clock cannot run them. The Guardian still
      // ticks, unsharded, so a wrong setting costs tick time, never the fleet's decisions.
      logger.error({ owner, SHARDS_MAX: memory.config.SHARDS_MAX }, SHARDS_NEED_QUEUE_CLOCK);
    }
    let next = Math.ceil(clock.now() / windowMs) * windowMs;
    let lastBeat: number | null = null;
    for (;;) {
      if (opts.signal?.aborted) {
        stopped = abortedBy(opts.signal);
        break;
      }
      if (next + longest + reserve > opts.deadlineMs) break;
      await clock.sleep(Math.max(0, next - clock.now()), opts.signal);
      if (opts.signal?.aborted) {
        stopped = abortedBy(opts.signal);
        break;
      }
      if (!(await state.takeLease(owner, clock.now(), leaseUntil(next)))) {
        logger.warn({ owner }, 'control-tick lease lost; exiting');
        stopped = 'lease-lost';
        break;
      }
      const started = clock.now();
      const timeLeftMs = () => opts.deadlineMs - reserve - clock.now();
      const report = await runTick(
        { ...deps, timeLeftMs, ...(opts.signal === undefined ? {} : { signal: opts.signal }) },
        next,
        memory,
      );
      reports.push(report);
      lastBeat = await beatIfDue(state, lastBeat, clock.now(), logger);
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
      await state.releaseLease(owner);
    }
  }
  return { ticks: reports.length, stopped, reports };
}

/** A signal aborted by the invocation's deadline (a TimeoutError reason) stops at the deadline; any other is an abort. */
function abortedBy(signal: AbortSignal): 'deadline' | 'aborted' {
  return (signal.reason as { name?: unknown } | undefined)?.name === 'TimeoutError' ? 'deadline' : 'aborted';
}
