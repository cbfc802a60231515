/**
 * The invocation's remaining time and its AbortSignal reach every metrics call of a tick: a
 * metrics request can never outlive the tick (the next window) nor the invocation's deadline
 * less its reserve.
 */

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { systemClock } from '../../../../adapters/clock.ts';
import { GuardianStore } from '../../../../adapters/dynamodb/guardian-store.ts';
import { silentLogger } from '../../../../adapters/logger.ts';
import type { MetricsSource, UsageCallOptions } from '../../../../core/ports/metrics-source.ts';
import { RecordingRequestSink } from '../../../../functions/guardian/recording-request-sink.ts';
import { runTicks } from '../../../../functions/guardian/run-ticks.ts';
import { aContainer } from '../../../support/containers.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { uniqueName } from '../../../support/env.ts';
import { aHost, putGuardianConfig, putHost, sameUsage } from '../../../support/guardian-fixtures.ts';

describe('runTicks hands its time to the metrics source', () => {
  let t: TestTable;
  beforeEach(async () => {
    t = await createTestTable('dynalite');
    await putGuardianConfig(t.table, { WINDOW_TIMELAPSE: 1, WINDOW_DELAY: 0, EVENT_TIMEOUT: 10 });
    const host = uniqueName('h');
    await putHost(t.table, aHost(host, [aContainer(uniqueName('c'), host)]));
  });
  afterEach(async () => {
    await t.drop();
  });

  it('passes timeLeftMs ≤ the window and ≤ the deadline less the reserve, and the signal', async () => {
    const inner = sameUsage({ cpu: 100 });
    const calls: { at: number; opts: UsageCallOptions | undefined }[] = [];
    const metrics: MetricsSource = {
      usage: (q, opts) => {
        calls.push({ at: Date.now(), opts });
        return inner.usage(q);
      },
    };
    const ac = new AbortController();
    const deadlineMs = Date.now() + 2600;
    const result = await runTicks(
      {
        state: new GuardianStore(t.table),
        metrics,
        sink: new RecordingRequestSink(silentLogger),
        logger: silentLogger,
        clock: systemClock,
        owner: 'a',
      },
      { deadlineMs, reserveMs: 300, signal: ac.signal },
    );
    expect(result.ticks).toBeGreaterThanOrEqual(1);
    expect(calls).toHaveLength(result.ticks);
    for (const c of calls) {
      expect(c.opts?.signal).toBe(ac.signal);
      const left = c.opts?.timeLeftMs ?? Number.POSITIVE_INFINITY;
      expect(left).toBeLessThanOrEqual(1000); // the 1 s window: never past the next tick
      expect(left).toBeLessThanOrEqual(deadlineMs - 300 - c.at + 20); // never past deadline − reserve
    }
  });
});
