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
import { newChainState } from '../guardian/chain.ts';
import {
  buildControlTick,
  clockWatchdog,
  handleClockEvent,
  invokeControlTick,
  isClockEvent,
  readControlTickEnv,
  type TickContext,
} from '../guardian/wiring.ts';
import { chainMetrics, DEADLINE_RESERVE_MS, lambdaHandler, tickMetrics } from './middleware.ts';

const wiring = buildControlTick(readControlTickEnv(process.env));
/** Kept while this execution environment lives: the chain's memory between the ticks it runs. */
const chainState = newChainState();
const proc = randomUUID();

export const handler = lambdaHandler(
  'controlTick',
  async (event: unknown, context: TickContext, { metrics, signal }) => {
    wiring.table.resetCounters();
    const [invokedAt, sent] = [Date.now(), wiring.sent.orders];
    if (isClockEvent(event)) {
      const out = await handleClockEvent(wiring, chainState, proc, event, {
        signal,
        timeLeftMs: () => context.getRemainingTimeInMillis() - DEADLINE_RESERVE_MS,
      });
      chainMetrics(metrics, out, invokedAt, wiring.sent.orders - sent);
      return { ticks: out.filter((o) => o.ran).length, dropped: out.filter((o) => !o.ran).length };
    }
    if (wiring.env.SC_CONTROL_CLOCK === 'queue') return clockWatchdog(wiring);
    // A failed tick fails the invocation (Lambda's Errors) and counts in FailedTicks.
    const result = await invokeControlTick(wiring, context, signal).catch((err: unknown) => {
      tickMetrics(metrics, { reports: [], failed: 1, agesMs: [], ordersSent: wiring.sent.orders - sent });
      throw err;
    });
    tickMetrics(metrics, {
      reports: result.reports,
      failed: 0,
      agesMs: [],
      ordersSent: wiring.sent.orders - sent,
    });
    return {
      ticks: result.ticks,
      stopped: result.stopped,
      requests: result.reports.reduce((n, r) => n + r.requests.length, 0),
      submitted: result.reports.reduce((n, r) => n + r.submitted, 0),
    };
  },
);
