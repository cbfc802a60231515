import { CreateQueueCommand, DeleteQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createSqsClient } from '../../../../adapters/aws.ts';
import { GuardianStore, takeChainLease, takeLease } from '../../../../adapters/dynamodb/guardian-store.ts';
import { silentLogger } from '../../../../adapters/logger.ts';
import { keys } from '../../../../core/contracts/table-layout.ts';
import { DEFAULT_RULES } from '../../../../core/policy/default-rules.ts';
import {
  type ChainMessage,
  newChainState,
  nextTick,
  parseChainMessage,
  runChainedTick,
  sqsTickScheduler,
  sqsTriggerQueue,
  type TickScheduler,
  watchdog,
} from '../../../../functions/guardian/chain.ts';
import { RecordingRequestSink } from '../../../../functions/guardian/recording-request-sink.ts';
import { startQueueTrigger } from '../../../../local/scheduler.ts';
import { aContainer } from '../../../support/containers.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS, sqsEndpoint, uniqueName } from '../../../support/env.ts';
import {
  aHost,
  putGuardianConfig,
  putHost,
  putRules,
  sameUsage,
} from '../../../support/guardian-fixtures.ts';

/** cpu 100 for every container in every window (below the default container's lower limit). */
const lowCpu = sameUsage({ cpu: 100 });

/** A clock set by the test; a sleep moves it on (and is recorded). */
function manualClock(t: number) {
  const c = {
    t,
    slept: [] as number[],
    now: () => c.t,
    sleep: async (ms: number) => {
      c.slept.push(ms);
      c.t += ms;
    },
    set: (at: number) => {
      c.t = at;
    },
  };
  return c;
}

/** Keeps what would be sent to the clock queue. */
function recordingScheduler(): TickScheduler & { sent: { message: ChainMessage; delayS: number }[] } {
  const sent: { message: ChainMessage; delayS: number }[] = [];
  return {
    sent,
    async schedule(message, delayS) {
      sent.push({ message, delayS });
    },
  };
}

describe.each(DYNAMO_FLAVOURS)('the chained control-tick clock on %s', (flavour) => {
  let t: TestTable;
  const T0 = 1_800_000_000_000; // a multiple of 10 s
  beforeEach(async () => {
    t = await createTestTable(flavour);
    await putGuardianConfig(t.table, { WINDOW_TIMELAPSE: 10, WINDOW_DELAY: 0, EVENT_TIMEOUT: 90 });
  });
  afterEach(async () => {
    await t.drop();
  });

  const deps = (clock: ReturnType<typeof manualClock>, scheduler: TickScheduler, proc = 'p1') => ({
    state: new GuardianStore(t.table),
    metrics: lowCpu,
    sink: new RecordingRequestSink(silentLogger),
    logger: silentLogger,
    clock,
    scheduler,
    proc,
  });

  it('runs one tick per message and enqueues the next one window later', async () => {
    const clock = manualClock(T0);
    const s = recordingScheduler();
    const state = newChainState();
    const out = await runChainedTick(deps(clock, s), state, { chain: 'c1', at: T0 });
    expect(out).toMatchObject({ ran: true, next: { chain: 'c1', at: T0 + 10_000 }, delayS: 10 });
    clock.set(T0 + 10_000);
    const again = await runChainedTick(deps(clock, s), state, { chain: 'c1', at: T0 + 10_000 });
    expect(again).toMatchObject({ ran: true, resumed: true, next: { at: T0 + 20_000 } });
    expect(s.sent.map((x) => x.message.at)).toEqual([T0 + 10_000, T0 + 20_000]);
    expect(await t.table.get(keys.lease('control-tick'))).toMatchObject({
      owner: 'c1',
      proc: 'p1',
      lastAt: T0 + 10_000,
      expiresAt: T0 + 40_000, // three windows after the last tick
    });
  });

  it('writes the Guardian’s heartbeat from chained ticks, at most every 30 s', async () => {
    const clock = manualClock(T0);
    const s = recordingScheduler();
    const state = newChainState();
    const beat = async () => (await t.table.get(keys.service('guardian')))?.heartbeat;
    await runChainedTick(deps(clock, s), state, { chain: 'c1', at: T0 });
    expect(await beat()).toBe(T0);
    // 10 s on: not yet due, the stored beat stays
    clock.set(T0 + 10_000);
    await runChainedTick(deps(clock, s), state, { chain: 'c1', at: T0 + 10_000 });
    expect(await beat()).toBe(T0);
    // 30 s after the last beat: written again
    clock.set(T0 + 30_000);
    await runChainedTick(deps(clock, s), state, { chain: 'c1', at: T0 + 30_000 });
    expect(await beat()).toBe(T0 + 30_000);
  });

  it('drops a message delivered twice, and a second chain while the first one lives', async () => {
    const clock = manualClock(T0);
    const s = recordingScheduler();
    const state = newChainState();
    await runChainedTick(deps(clock, s), state, { chain: 'c1', at: T0 });
    expect(await runChainedTick(deps(clock, s), state, { chain: 'c1', at: T0 })).toEqual({
      ran: false,
      reason: 'duplicate-or-other-chain',
    });
    expect(
      await runChainedTick(deps(clock, s, 'p2'), newChainState(), { chain: 'c2', at: T0 + 10_000 }),
    ).toMatchObject({
      ran: false,
    });
    expect(s.sent).toHaveLength(1); // only the first chain goes on
  });

  it('lets another process run the chain, reading afresh; a dead chain is taken over after its lease expires', async () => {
    const clock = manualClock(T0);
    expect(await takeChainLease(t.table, { chain: 'c1', at: T0 }, 'p1', T0, 10_000)).toBe('take');
    expect(await takeChainLease(t.table, { chain: 'c1', at: T0 + 10_000 }, 'p1', T0 + 10_000, 10_000)).toBe(
      'resume',
    );
    expect(await takeChainLease(t.table, { chain: 'c1', at: T0 + 20_000 }, 'p2', T0 + 20_000, 10_000)).toBe(
      'take',
    );
    // c1 stops: c2 waits until the lease (three windows after c1's last tick) has expired
    expect(
      await takeChainLease(t.table, { chain: 'c2', at: T0 + 40_000 }, 'p3', T0 + 40_000, 10_000),
    ).toBeNull();
    expect(await takeChainLease(t.table, { chain: 'c2', at: T0 + 50_000 }, 'p3', T0 + 50_000, 10_000)).toBe(
      'take',
    );
    // and the invocation clock's lease excludes it as well (same item)
    expect(await takeLease(t.table, 'an-invocation', T0 + 55_000, T0 + 75_000)).toBe(false);
    void clock;
  });

  it('keeps events in memory between the ticks it runs and writes each within checkpointEveryMs, a share a tick', async () => {
    // 20 s windows, a checkpoint a minute: a third of the states kept in memory owed each tick
    await putGuardianConfig(t.table, { WINDOW_TIMELAPSE: 20, WINDOW_DELAY: 0, EVENT_TIMEOUT: 180 });
    const host = uniqueName('h');
    const low = uniqueName('low');
    await putRules(t.table, DEFAULT_RULES);
    await putHost(t.table, aHost(host, [aContainer(low, host)]));
    const clock = manualClock(T0);
    const s = recordingScheduler();
    const state = newChainState();
    const writes: number[] = [];
    for (let k = 0; k < 4; k++) {
      clock.set(T0 + k * 20_000);
      const out = await runChainedTick({ ...deps(clock, s), checkpointEveryMs: 60_000 }, state, {
        chain: 'c1',
        at: T0 + k * 20_000,
      });
      if (out.ran) writes.push(out.report?.guardWrites ?? -1);
      if (k === 2) expect((await t.table.get(keys.guard(host, low)))?.events).toHaveLength(1); // as first written
    }
    // the new GUARD item, then one state owed by the third tick after it: written at the fourth
    expect(writes).toEqual([1, 0, 0, 0]);
    expect((await t.table.get(keys.guard(host, low)))?.events).toHaveLength(4);
  });

  it('carries the live events to a tick in another environment: a rule needing six fires in the same window', async () => {
    // cpu 100 is under the lower limit: CpuRescaleDown needs 6 down events. Ticks alternate between
    // two environments (SQS hands each message to any); with the carry the request comes in the
    // sixth window, as in one environment; without it each tick starts from the stored events.
    await putRules(t.table, DEFAULT_RULES);
    await putGuardianConfig(t.table, { WINDOW_TIMELAPSE: 10, WINDOW_DELAY: 0, EVENT_TIMEOUT: 120 });
    let base = T0;
    const firstRequest = async (procs: string[], carry: boolean) => {
      const host = uniqueName('h');
      await putHost(t.table, aHost(host, [aContainer(uniqueName('c'), host)]));
      base += 1_000_000; // after the last run's lease
      const clock = manualClock(base);
      const states = new Map(procs.map((p) => [p, newChainState()]));
      const chain = uniqueName('chain');
      for (let k = 0; k < 10; k++) {
        clock.set(base + k * 10_000);
        const proc = procs[k % procs.length] as string;
        const store = new GuardianStore(t.table);
        const out = await runChainedTick(
          { ...deps(clock, recordingScheduler(), proc), state: store, ...(carry ? { carry: store } : {}) },
          states.get(proc) ?? newChainState(),
          { chain, at: base + k * 10_000 },
        );
        expect(out.ran).toBe(true);
        if (out.ran && (out.report?.requests.length ?? 0) > 0) return { window: k, resumed: out.resumed };
      }
      return null;
    };
    const alone = await firstRequest(['p1'], true);
    expect(alone).toEqual({ window: 5, resumed: true });
    expect(await firstRequest(['p1', 'p2'], true)).toEqual({ window: 5, resumed: false });
    expect(await firstRequest(['p1', 'p2', 'p3'], true)).toEqual({ window: 5, resumed: false });
    expect(await firstRequest(['p1', 'p2'], false)).toBeNull(); // the events were lost at every hop
  });

  it('tells an onset from the previous window only when this process ran the chain’s previous tick', async () => {
    // cpu current 300 (upper 260, lower 220): 210 is quiet (a cut to it would free 30 < the margin 40),
    // 270 is above upper and visible: an onset after 210 → max(75, 300), to max 400: +100; else the fit +30
    await putRules(t.table, DEFAULT_RULES);
    const host = uniqueName('h');
    await putHost(t.table, aHost(host, [aContainer(uniqueName('c'), host)]));
    const usage = { cpu: 210 };
    const metrics = { usage: (q: Parameters<typeof lowCpu.usage>[0]) => sameUsage({ ...usage }).usage(q) };
    const clock = manualClock(T0);
    const s = recordingScheduler();
    const states = new Map([
      ['p1', newChainState()],
      ['p2', newChainState()],
    ]);
    const amounts = [];
    for (const [k, [proc, cpu]] of (
      [
        ['p1', 210],
        ['p1', 270], // resumed: the previous window (210 ≤ lower) is known → the onset's +100
        ['p1', 210],
        ['p2', 270], // another process takes the chain: memory read afresh, previous unknown → the fit
      ] as const
    ).entries()) {
      usage.cpu = cpu;
      clock.set(T0 + k * 10_000);
      const state = states.get(proc) ?? newChainState();
      const r = await runChainedTick({ ...deps(clock, s, proc), metrics }, state, {
        chain: 'c1',
        at: T0 + k * 10_000,
      });
      amounts.push(r.ran ? [r.resumed, r.report?.requests.map((q) => q.amount)] : null);
    }
    expect(amounts).toEqual([
      [false, []],
      [true, [100]],
      [true, []],
      [false, [30]],
    ]);
  });

  it('retires the unsharded chain once a generation owns the window, in a process that last ticked it unsharded', async () => {
    const clock = manualClock(T0);
    const s = recordingScheduler();
    const state = newChainState();
    const d = { ...deps(clock, s), shards: new GuardianStore(t.table) };
    expect(await runChainedTick(d, state, { chain: 'c1', at: T0 })).toMatchObject({ ran: true }); // SHARDS_MAX 1
    // Sharding turned on since, and the watchdog recorded a first generation from T0 + 20 s
    await putGuardianConfig(t.table, {
      WINDOW_TIMELAPSE: 10,
      WINDOW_DELAY: 0,
      EVENT_TIMEOUT: 90,
      SHARDS_MAX: 4,
    });
    await new GuardianStore(t.table).writeShards(
      {
        current: { gen: 1, shards: 3, from: T0 + 20_000 },
        previous: { gen: 0, shards: 1, from: 0 },
        version: 1,
      },
      0,
    );
    // another environment ticks the window between; this one's memory keeps the config of its last tick
    clock.set(T0 + 10_000);
    const other = { ...deps(clock, s, 'p2'), shards: new GuardianStore(t.table) };
    expect(await runChainedTick(other, newChainState(), { chain: 'c1', at: T0 + 10_000 })).toMatchObject({
      ran: true,
    });
    clock.set(T0 + 20_000);
    expect(await runChainedTick(d, state, { chain: 'c1', at: T0 + 20_000 })).toEqual({
      ran: false,
      reason: 'retired',
    });
  });

  it('rounds the whole-second delay down when the tick may sleep the remainder, up otherwise', () => {
    // a 1 s window whose tick ended 516 ms in: 484 ms to the next boundary
    expect(nextTick(T0, T0 + 516, 1000)).toEqual({ at: T0 + 1000, delayS: 1 }); // never wait: 0.484 → 1 (late)
    expect(nextTick(T0, T0 + 516, 1000, 500)).toEqual({ at: T0 + 1000, delayS: 0 }); // sleep 484 ms
    expect(nextTick(T0, T0 + 316, 1000, 500)).toEqual({ at: T0 + 1000, delayS: 1 }); // 684 ms > 500: late
    expect(nextTick(T0, T0 + 316, 1000, 1000)).toEqual({ at: T0 + 1000, delayS: 0 }); // always on time
    expect(nextTick(T0, T0 + 10, 10_000)).toEqual({ at: T0 + 10_000, delayS: 10 }); // 9.99 s → 10
    expect(nextTick(T0, T0 + 10, 10_000, 500)).toEqual({ at: T0 + 10_000, delayS: 10 }); // 990 ms > 500
    expect(nextTick(T0, T0 + 600, 10_000, 500)).toEqual({ at: T0 + 10_000, delayS: 9 }); // sleep 400 ms
    expect(nextTick(T0, T0 + 2000, 10_000, 500)).toEqual({ at: T0 + 10_000, delayS: 8 }); // exact
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3_600_000 }),
        fc.integer({ min: 0, max: 30_000 }),
        fc.constantFrom(1000, 5000, 10_000, 60_000),
        fc.integer({ min: 0, max: 1000 }),
        (atOffset, tookMs, windowMs, maxWaitMs) => {
          const at = T0 + atOffset * windowMs;
          const now = at + tookMs;
          const next = nextTick(at, now, windowMs, maxWaitMs);
          const deliveredAt = now + next.delayS * 1000;
          expect(next.at).toBeGreaterThan(now); // always in the future, on a window boundary
          expect((next.at - T0) % windowMs).toBe(0);
          expect(next.at - deliveredAt).toBeLessThanOrEqual(maxWaitMs); // early by at most the allowed sleep
          expect(deliveredAt - next.at).toBeLessThan(1000); // late by less than a second
        },
      ),
    );
  });

  it('never ticks before its time: an early message waits for its window', async () => {
    const clock = manualClock(T0 - 400); // delivered 400 ms before the tick's time
    const out = await runChainedTick(deps(clock, recordingScheduler()), newChainState(), {
      chain: 'c9',
      at: T0,
    });
    expect(out.ran).toBe(true);
    expect(clock.slept[0]).toBe(400);
  });

  it('watchdog: does nothing while the chain is alive, starts a new chain when it has stopped', async () => {
    const clock = manualClock(T0 + 3000);
    const s = recordingScheduler();
    const first = await watchdog({
      state: new GuardianStore(t.table),
      clock,
      scheduler: s,
      logger: silentLogger,
    });
    expect(first.alive).toBe(false);
    expect(first.started?.at).toBe(T0 + 10_000); // the next window boundary
    expect(s.sent[0]?.delayS).toBe(7);
    const started = first.started as ChainMessage;
    clock.set(started.at);
    await runChainedTick(deps(clock, s), newChainState(), started);
    clock.set(started.at + 25_000);
    expect(
      await watchdog({ state: new GuardianStore(t.table), clock, scheduler: s, logger: silentLogger }),
    ).toEqual({
      alive: true,
      started: null,
    });
    clock.set(started.at + 31_000); // no tick for three windows
    expect(
      (await watchdog({ state: new GuardianStore(t.table), clock, scheduler: s, logger: silentLogger }))
        .alive,
    ).toBe(false);
  });
});

describe('the clock queue on fauxqs', () => {
  let sqs: SQSClient;
  let queueUrl: string;
  beforeAll(async () => {
    sqs = createSqsClient({ endpoint: sqsEndpoint(), region: 'us-east-1' });
    const out = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('clock') }));
    queueUrl = out.QueueUrl as string;
  });
  afterAll(async () => {
    await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
    sqs.destroy();
  });

  it('delivers a tick after its delay to the local event-source stand-in, which deletes it once handled', async () => {
    const ac = new AbortController();
    const seen: { msg: ChainMessage; at: number }[] = [];
    const sentAt = Date.now();
    await sqsTickScheduler(sqs, queueUrl).schedule({ chain: 'c1', at: sentAt + 1000 }, 1);
    const trigger = startQueueTrigger({
      name: 'controlTick',
      queue: sqsTriggerQueue(sqs, queueUrl),
      timeoutMs: 5000,
      signal: ac.signal,
      handler: async (event) => {
        for (const r of event.Records) seen.push({ msg: parseChainMessage(r.body), at: Date.now() });
      },
    });
    for (let i = 0; i < 60 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    ac.abort();
    const stats = await trigger.done;
    expect(seen).toHaveLength(1);
    expect(seen[0]?.msg).toEqual({ chain: 'c1', at: sentAt + 1000 });
    expect(seen[0]?.at).toBeGreaterThanOrEqual(sentAt + 900); // not before its delay
    expect(stats).toMatchObject({ invocations: 1, failures: 0 });
    const left = await sqsTriggerQueue(sqs, queueUrl).receive(0, new AbortController().signal);
    expect(left).toEqual([]); // deleted
  });

  it('refuses a malformed clock message, naming the field', () => {
    expect(() => parseChainMessage('{"chain":"c1"}')).toThrow(/at/);
    expect(() => parseChainMessage('not json')).toThrow(/JSON/);
  });
});
