/**
 * The sharded control tick in virtual time: the deployed chain code
 * (runChainedTick per clock message, shardWatchdog once a minute) driven by a
 * stand-in for the clock queue that delivers each message at its time, to one
 * of several execution environments, sometimes twice at once (SQS standard is
 * at-least-once), with several watchdogs racing. The decisions log (window →
 * structure → times decided) is what the exactly-once checks read. Used by
 * the shard integration tests and `npm run bench -- scale`.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import type { Logger } from '../adapters/logger.ts';
import type {
  CarryStore,
  GuardianState,
  ShardCoordination,
  TickLease,
} from '../core/ports/guardian-state.ts';
import {
  type ChainDeps,
  type ChainMessage,
  type ChainOutcome,
  type ChainState,
  chainStateFor,
  newChainState,
  runChainedTick,
  type TickScheduler,
} from '../functions/guardian/chain.ts';
import { withInvocationReads } from '../functions/guardian/invocation-reads.ts';
import { type ShardWatchdogResult, shardWatchdog } from '../functions/guardian/shard-watchdog.ts';
import type { ManualClock } from '../test/support/ops-fixtures.ts';

export interface ShardSimOptions {
  /** Frozen between events: every tick of one instant sees the same `now`. */
  clock: ManualClock;
  /** Everything a chain tick needs but its process, scheduler and clock (built once, shared). */
  tickDeps: Omit<ChainDeps, 'proc' | 'scheduler' | 'clock' | 'state' | 'shards' | 'carry'> & {
    state: GuardianState & TickLease & ShardCoordination & Partial<CarryStore>;
  };
  /** Carry live events between a chain's ticks through the state's CarryStore (default: when it has one). */
  carry?: boolean;
  /**
   * What each execution environment has of its own (as on Lambda: its activity lines held in
   * memory, and the sink that holds the planner's): built once per environment, over `tickDeps`.
   */
  perProcess?: (id: string) => Partial<Pick<ChainDeps, 'sink' | 'activity'>>;
  logger: Logger;
  /** Run until this time (epoch ms, virtual). */
  endAt: number;
  /** Execution environments the messages are spread over. */
  processes: number;
  /** Share of messages delivered twice, at once, to two environments. */
  duplicateRate: number;
  /** Watchdog invocations racing at each minute. */
  watchdogs: number;
  watchdogEveryMs: number;
  /** Deterministic chance in [0, 1). */
  random: () => number;
  /** Called at these virtual times before the messages due then (changes to the fleet). */
  events?: { at: number; run: () => Promise<void> }[];
  /** A message this returns true for is lost (its chain stops until the watchdog restarts it). */
  lose?: (msg: ChainMessage) => boolean;
  /** Clock messages queued at the start (chains started by hand; with no watchdog, the only ones). */
  start?: ChainMessage[];
  /**
   * Run the messages due at one instant one after another (each tick timed alone, as on its own
   * Lambda) instead of at once (racing on this process's event loop).
   */
  serial?: boolean;
  /** CPU time the emulator has used so far, ms (its own process): recorded per tick. */
  emulatorCpuMs?: () => number;
  /** Told after each instant's messages ran (progress of a long run). */
  onInstant?: (at: number, ticks: number) => void;
}

export interface ShardSimResult {
  /** Window → structure → times decided. */
  decisions: Map<number, Map<string, number>>;
  /** Wall time of each tick that ran, ms, with its shard and generation. */
  ticks: {
    at: number;
    gen: number;
    shard: number;
    /** The tick itself (runTick). */
    ms: number;
    /** The whole clock message: shard record, lease, tick, next message. */
    wallMs: number;
    /** CPU time of this process during the message (serial runs only: the tick's own), ms. */
    cpuMs: number;
    /** Garbage collection of the whole process while the tick ran, ms (every environment shares one heap here). */
    gcMs: number;
    /** The emulator's CPU time while the tick ran, ms (null: not measured). */
    emulatorMs: number | null;
    phasesMs: { state: number; metrics: number; decide: number; write: number };
    structures: number;
    requests: number;
    /** This environment ran the chain's previous tick (its memory was used). */
    resumed: boolean;
    /** Structures that took carried events (a tick that did not resume). */
    carried: number;
    /** Deflated bytes of the carry written by this tick; null: none written (unchanged, or no carry). */
    carryBytes: number | null;
    guardWrites: number;
  }[];
  outcomes: ChainOutcome[];
  watchdogRuns: ShardWatchdogResult[];
  delivered: number;
}

/** A seeded generator (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function runShardSim(o: ShardSimOptions): Promise<ShardSimResult> {
  const gc = { ms: 0 };
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gc.ms += e.duration;
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  try {
    return await simulate(o, gc);
  } finally {
    gcObserver.disconnect();
  }
}

async function simulate(o: ShardSimOptions, gc: { ms: number }): Promise<ShardSimResult> {
  const queue: { msg: ChainMessage; deliverAt: number }[] = [];
  const scheduler: TickScheduler = {
    async schedule(msg, delayS) {
      const deliverAt = o.clock.now() + delayS * 1000;
      queue.push({ msg, deliverAt });
      if (o.random() < o.duplicateRate) queue.push({ msg, deliverAt });
    },
  };
  const procs: { id: string; state: ChainState; own: Partial<ChainDeps> }[] = Array.from(
    { length: o.processes },
    (_, i) => ({ id: `env-${i}`, state: newChainState(), own: o.perProcess?.(`env-${i}`) ?? {} }),
  );
  const out: ShardSimResult = {
    decisions: new Map(),
    ticks: [],
    outcomes: [],
    watchdogRuns: [],
    delivered: 0,
  };
  const events = [...(o.events ?? [])].sort((a, b) => a.at - b.at);
  for (const msg of o.start ?? []) queue.push({ msg, deliverAt: msg.at });
  let nextWatchdog = o.watchdogs > 0 ? o.clock.now() : Number.POSITIVE_INFINITY;
  const watchdogDeps = {
    state: o.tickDeps.state,
    shards: o.tickDeps.state,
    clock: o.clock,
    scheduler,
    logger: o.logger,
  };

  for (;;) {
    const next = Math.min(nextWatchdog, events[0]?.at ?? Infinity, ...queue.map((q) => q.deliverAt));
    if (!(next <= o.endAt)) break;
    o.clock.t = Math.max(o.clock.t, next);
    while (events[0] !== undefined && events[0].at <= o.clock.t)
      await (events.shift() as { run: () => Promise<void> }).run();
    if (nextWatchdog <= o.clock.t) {
      nextWatchdog += o.watchdogEveryMs;
      const runs = await Promise.all(Array.from({ length: o.watchdogs }, () => shardWatchdog(watchdogDeps)));
      out.watchdogRuns.push(...runs);
    }
    const due = queue.filter((q) => q.deliverAt <= o.clock.t);
    for (const d of due) queue.splice(queue.indexOf(d), 1);
    // Messages due at once run concurrently, each on an environment (shuffled).
    const order = procs.map((p) => ({ p, k: o.random() })).sort((a, b) => a.k - b.k);
    const deliver = async ({ msg }: { msg: ChainMessage }, i: number) => {
      if (o.lose?.(msg)) return;
      out.delivered += 1;
      const proc = (order[i % order.length] as (typeof order)[number]).p;
      // One invocation per message (batch size 1): its config and rules are read once.
      const state = withInvocationReads(o.tickDeps.state);
      const deps: ChainDeps = {
        ...o.tickDeps,
        ...proc.own,
        state,
        shards: state,
        ...(o.carry !== false && state.readCarries !== undefined && state.writeCarry !== undefined
          ? { carry: state as CarryStore }
          : {}),
        proc: proc.id,
        scheduler,
        clock: o.clock,
      };
      const started = performance.now();
      const gc0 = gc.ms;
      const emulator0 = o.emulatorCpuMs?.() ?? null;
      const cpu0 = process.cpuUsage();
      const outcome = await runChainedTick(deps, chainStateFor(proc.state, msg), msg);
      const wallMs = performance.now() - started;
      const cpu = process.cpuUsage(cpu0);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      // gc entries arrive on the event loop: let the tick's be delivered before reading them
      await new Promise((resolve) => setImmediate(resolve));
      const gcMs = gc.ms - gc0;
      const emulatorMs = emulator0 === null ? null : (o.emulatorCpuMs?.() ?? emulator0) - emulator0;
      out.outcomes.push(outcome);
      if (outcome.ran && outcome.report !== null) {
        const r = outcome.report;
        out.ticks.push({
          at: msg.at,
          gen: msg.gen ?? 0,
          shard: msg.shard ?? 0,
          ms: r.ms,
          wallMs,
          cpuMs,
          gcMs,
          emulatorMs,
          phasesMs: r.phasesMs,
          structures: r.structures,
          requests: r.requests.length,
          resumed: outcome.resumed,
          carried: r.carried,
          carryBytes: outcome.carry?.written === true ? outcome.carry.bytes : null,
          guardWrites: r.guardWrites,
        });
        const w = out.decisions.get(msg.at) ?? new Map<string, number>();
        out.decisions.set(msg.at, w);
        for (const name of r.decided) w.set(name, (w.get(name) ?? 0) + 1);
      }
    };
    if (o.serial === true) for (const [i, d] of due.entries()) await deliver(d, i);
    else await Promise.all(due.map(deliver));
    if (due.length > 0) o.onInstant?.(o.clock.t, out.ticks.length);
  }
  return out;
}

/**
 * (window, structure) pairs decided other than once: `expected(at)` names the structures that
 * must be decided in window `at`, for every window in [fromAt, toAt] (step windowMs).
 */
export function missedOrDouble(
  decisions: ShardSimResult['decisions'],
  expected: (at: number) => ReadonlySet<string>,
  fromAt: number,
  toAt: number,
  windowMs: number,
): { missed: number; double: number; unexpected: number; examples: string[] } {
  const r = { missed: 0, double: 0, unexpected: 0, examples: [] as string[] };
  const note = (s: string) => {
    if (r.examples.length < 10) r.examples.push(s);
  };
  for (let at = fromAt; at <= toAt; at += windowMs) {
    const want = expected(at);
    const got = decisions.get(at) ?? new Map<string, number>();
    for (const name of want) {
      const n = got.get(name) ?? 0;
      if (n === 0) {
        r.missed += 1;
        note(`${name} missed at ${at}`);
      } else if (n > 1) {
        r.double += 1;
        note(`${name} decided ${n}× at ${at}`);
      }
    }
    for (const name of got.keys())
      if (!want.has(name)) {
        r.unexpected += 1;
        note(`${name} not expected at ${at}`);
      }
  }
  return r;
}
