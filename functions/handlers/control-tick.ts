/**
 * The control tick. Its cadence is a deployment choice (SC_CONTROL_CLOCK, docs/cost.md):
 * - 'invocation': EventBridge invokes it once a minute and it runs Guardian ticks every
 *   WINDOW_TIMELAPSE seconds until shortly before its deadline, under the control-tick lease;
 * - 'queue': each message of the clock queue (SQS event source mapping) runs one tick and
 *   enqueues the next with a delay; the once-a-minute invocation is a watchdog that restarts
 *   the chain when it has stopped.
 * Each tick's requests are planned by the Scaler and its orders queued to the hosts.
 */
import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import { newChainState } from '../guardian/chain.ts';
import {
  buildControlTick,
  clockWatchdog,
  handleClockEvent,
  invokeControlTick,
  isClockEvent,
  type TickContext,
} from '../guardian/wiring.ts';

const wiring = buildControlTick(process.env);
/** Kept while this execution environment lives: the chain's memory between the ticks it runs. */
const chainState = newChainState();
const proc = randomUUID();

export const handler = middy(async (event: unknown, context: TickContext) => {
  wiring.table.resetCounters();
  if (isClockEvent(event)) {
    const out = await handleClockEvent(wiring, chainState, proc, event);
    return { ticks: out.filter((o) => o.ran).length, dropped: out.filter((o) => !o.ran).length };
  }
  if (wiring.env.SC_CONTROL_CLOCK === 'queue') return clockWatchdog(wiring);
  const result = await invokeControlTick(wiring, context);
  return {
    ticks: result.ticks,
    stopped: result.stopped,
    requests: result.reports.reduce((n, r) => n + r.requests.length, 0),
    submitted: result.reports.reduce((n, r) => n + r.submitted, 0),
  };
});
