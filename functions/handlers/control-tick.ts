/**
 * Scheduled control tick (EventBridge, once a minute): runs Guardian ticks
 * every WINDOW_TIMELAPSE seconds until shortly before the invocation's
 * deadline, under the control-tick lease.
 */
import middy from '@middy/core';
import { systemClock } from '../../adapters/clock.ts';
import { runTicks } from '../guardian/run-ticks.ts';
import { buildGuardian } from '../guardian/wiring.ts';

const wiring = buildGuardian(process.env);

interface TickContext {
  awsRequestId: string;
  getRemainingTimeInMillis(): number;
}

export const handler = middy(async (_event: unknown, context: TickContext) => {
  const { table, metrics, sink, logger, env } = wiring;
  table.resetCounters();
  const result = await runTicks(
    { table, metrics, sink, logger, clock: systemClock, owner: context.awsRequestId },
    { deadlineMs: Date.now() + context.getRemainingTimeInMillis(), reserveMs: env.SC_TICK_RESERVE_MS },
  );
  return {
    ticks: result.ticks,
    stopped: result.stopped,
    requests: result.reports.reduce((n, r) => n + r.requests.length, 0),
  };
});
