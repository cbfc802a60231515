/**
 * Scheduled control tick (EventBridge, once a minute): runs Guardian ticks
 * every WINDOW_TIMELAPSE seconds until shortly before the invocation's
 * deadline, under the control-tick lease; each tick's requests are planned by
 * the Scaler and its orders queued to the hosts.
 */
import middy from '@middy/core';
import { buildControlTick, invokeControlTick, type TickContext } from '../guardian/wiring.ts';

const wiring = buildControlTick(process.env);

export const handler = middy(async (_event: unknown, context: TickContext) => {
  wiring.table.resetCounters();
  const result = await invokeControlTick(wiring, context);
  return {
    ticks: result.ticks,
    stopped: result.stopped,
    requests: result.reports.reduce((n, r) => n + r.requests.length, 0),
    submitted: result.reports.reduce((n, r) => n + r.submitted, 0),
  };
});
