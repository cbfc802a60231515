import { describe, expect, it } from '@jest/globals';
import { ValidationError } from '../../../core/errors.ts';
import {
  type LocalLambdaContext,
  parseRate,
  type ScheduledEvent,
  startQueueTrigger,
  startSchedule,
} from '../../../local/scheduler.ts';
import { flush, ManualClock } from '../../support/manual-clock.ts';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('parseRate', () => {
  it('reads EventBridge rate expressions, seconds included', () => {
    expect(parseRate('rate(10 seconds)')).toBe(10_000);
    expect(parseRate('rate(1 second)')).toBe(1_000);
    expect(parseRate('rate(1 minute)')).toBe(60_000);
    expect(parseRate('rate(5 minutes)')).toBe(300_000);
    expect(parseRate('rate(2 hours)')).toBe(7_200_000);
  });

  it.each(['rate(0 minutes)', 'rate(1 minutes)', 'rate(5 minute)', 'cron(0 * * * ? *)', 'rate(1.5 minutes)'])(
    'rejects %s naming the rate field',
    (expr) => {
      expect(() => parseRate(expr)).toThrow(ValidationError);
      expect(() => parseRate(expr)).toThrow(/schedule\.rate/);
    },
  );
});

describe('startSchedule', () => {
  it('invokes on a fixed grid, first at start', async () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    const ac = new AbortController();
    const at: number[] = [];
    const s = startSchedule({
      name: 'guardian',
      rate: 'rate(10 seconds)',
      timeoutMs: 5_000,
      signal: ac.signal,
      clock,
      handler: async () => {
        at.push(clock.now() - t0);
      },
    });
    await clock.advance(35_000);
    ac.abort();
    const stats = await s.done;
    expect(at).toEqual([0, 10_000, 20_000, 30_000]);
    expect(stats.invocations).toBe(4);
    expect(stats.skipped).toBe(0);
  });

  it('gives a Lambda-like context whose remaining time counts down from the timeout', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    const seen: { ctx: LocalLambdaContext; event: ScheduledEvent; remaining: number[] }[] = [];
    const s = startSchedule({
      name: 'planner',
      rate: 'rate(1 minute)',
      timeoutMs: 30_000,
      signal: ac.signal,
      clock,
      memoryMiB: 512,
      handler: async (event, ctx) => {
        const remaining = [ctx.getRemainingTimeInMillis()];
        await clock.sleep(12_000);
        remaining.push(ctx.getRemainingTimeInMillis());
        seen.push({ ctx, event, remaining });
      },
    });
    await clock.advance(61_000);
    await clock.advance(12_000);
    ac.abort();
    await s.done;
    expect(seen).toHaveLength(2);
    const [first, second] = seen;
    expect(first?.remaining).toEqual([30_000, 18_000]); // 30 s − 12 s
    expect(first?.ctx.functionName).toBe('planner');
    expect(first?.ctx.memoryLimitInMB).toBe('512');
    expect(first?.ctx.awsRequestId).not.toBe(second?.ctx.awsRequestId);
    expect(first?.event).toMatchObject({ source: 'aws.events', 'detail-type': 'Scheduled Event' });
    expect(first?.event.resources[0]).toContain('planner');
  });

  it('skips slots while the previous invocation runs, then resumes on the grid', async () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    const ac = new AbortController();
    const starts: number[] = [];
    const s = startSchedule({
      name: 'slow',
      rate: 'rate(10 seconds)',
      timeoutMs: 60_000,
      signal: ac.signal,
      clock,
      handler: async () => {
        starts.push(clock.now() - t0);
        if (starts.length === 1) await clock.sleep(25_000);
      },
    });
    await clock.advance(45_000);
    ac.abort();
    const stats = await s.done;
    // first run 0–25 s covers the 10 s and 20 s slots; then 30 s and 40 s.
    expect(starts).toEqual([0, 30_000, 40_000]);
    expect(stats.skipped).toBe(2);
  });

  it('overlaps invocations when allowed', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    let concurrent = 0;
    let peak = 0;
    const s = startSchedule({
      name: 'overlap',
      rate: 'rate(10 seconds)',
      timeoutMs: 60_000,
      allowOverlap: true,
      signal: ac.signal,
      clock,
      handler: async () => {
        concurrent += 1;
        peak = Math.max(peak, concurrent);
        await clock.sleep(25_000);
        concurrent -= 1;
      },
    });
    await clock.advance(30_000);
    ac.abort();
    await clock.advance(30_000);
    const stats = await s.done;
    expect(peak).toBe(3); // runs started at 0, 10, 20 s are all alive at 20 s
    expect(stats.skipped).toBe(0);
  });

  it('waits for the running invocation before resolving on abort', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    const gate = deferred();
    let finished = false;
    const s = startSchedule({
      name: 'drain',
      rate: 'rate(10 seconds)',
      timeoutMs: 60_000,
      signal: ac.signal,
      clock,
      handler: async () => {
        await gate.promise;
        finished = true;
      },
    });
    let resolved = false;
    void s.done.then(() => {
      resolved = true;
    });
    await flush();
    ac.abort();
    await flush();
    expect(resolved).toBe(false);
    gate.resolve();
    const stats = await s.done;
    expect(finished).toBe(true);
    expect(stats.invocations).toBe(1);
  });

  it('counts failures and timeouts and keeps scheduling', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    let n = 0;
    const s = startSchedule({
      name: 'flaky',
      rate: 'rate(10 seconds)',
      timeoutMs: 3_000,
      signal: ac.signal,
      clock,
      handler: async () => {
        n += 1;
        if (n === 1) throw new Error('boom');
        if (n === 2) await clock.sleep(4_000);
      },
    });
    await clock.advance(25_000);
    ac.abort();
    const stats = await s.done;
    expect(stats).toMatchObject({ invocations: 3, failures: 1, timeouts: 1 });
    expect(stats.durationsMs).toEqual([0, 4_000, 0]);
  });

  it('rejects a non-positive timeout', () => {
    const ac = new AbortController();
    expect(() =>
      startSchedule({
        name: 'x',
        rate: 'rate(1 minute)',
        timeoutMs: 0,
        signal: ac.signal,
        handler: async () => {},
      }),
    ).toThrow(/timeoutMs/);
  });
});

describe('startQueueTrigger (the event source mapping stand-in)', () => {
  /** A queue holding `bodies`, handing out one per receive; deleted receipts recorded. */
  function fakeQueue(bodies: string[]) {
    const deleted: string[] = [];
    let next = 0;
    return {
      deleted,
      async receive(_waitS: number, signal: AbortSignal) {
        if (next < bodies.length) {
          const i = next++;
          return [{ messageId: `m${i}`, receiptHandle: `r${i}`, body: bodies[i] as string }];
        }
        await new Promise((r) => setTimeout(r, 5));
        if (signal.aborted) return [];
        return [];
      },
      async delete(receipt: string) {
        deleted.push(receipt);
      },
    };
  }

  it('invokes the handler with each message as an SQS event and deletes it only when the handler succeeds', async () => {
    const queue = fakeQueue(['ok-1', 'fail', 'ok-2']);
    const ac = new AbortController();
    const seen: string[] = [];
    const trigger = startQueueTrigger({
      name: 'controlTick',
      queue,
      timeoutMs: 1000,
      signal: ac.signal,
      handler: async (event) => {
        const body = event.Records[0]?.body ?? '';
        seen.push(`${event.Records[0]?.eventSource} ${body}`);
        if (body === 'fail') throw new Error('tick failed');
      },
    });
    for (let i = 0; i < 100 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    const stats = await trigger.done;
    expect(seen).toEqual(['aws:sqs ok-1', 'aws:sqs fail', 'aws:sqs ok-2']);
    expect(queue.deleted).toEqual(['r0', 'r2']); // the failed one comes back after its visibility timeout
    expect(stats).toMatchObject({ invocations: 3, failures: 1 });
  });
});
