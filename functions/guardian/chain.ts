/**
 * The control tick's cadence as a chain of delayed queue messages, instead of
 * one invocation that waits between its ticks (run-ticks.ts): each invocation
 * runs ONE tick and enqueues the next with DelaySeconds, so Lambda bills only
 * the ticks' busy time. An SQS event source mapping (batch 1, reserved
 * concurrency 1) invokes the tick; the once-a-minute scheduled invocation is a
 * watchdog that returns at once while the chain is alive and starts a new
 * chain when it is not.
 *
 * The lease is the same item and the same rule as run-ticks.ts: one Guardian
 * at a time. Its owner is the chain id carried by the messages, so any
 * execution environment may run the chain's next tick; it also records the
 * last tick's time (`lastAt`), so a message delivered twice (SQS standard is
 * at-least-once) or a second chain (two watchdogs racing) is dropped by the
 * conditional write. The states kept in memory between ticks (TickMemory) are
 * used only when this process ran the chain's previous tick (`proc` in the
 * lease); otherwise the tick reads everything afresh, as a new invocation
 * does, and lays over it the live events the chain's last tick carried
 * (carry.ts). The states kept only in memory are checkpointed a share at a
 * time, so each is written within `checkpointEveryMs` and no tick writes them all.
 */
import { randomUUID } from 'node:crypto';
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { z } from 'zod';
import type { ChainCarry } from '../../core/contracts/carry.ts';
import { defaultConfig } from '../../core/contracts/service-config.ts';
import { type ShardRecord, type ShardRef, UNSHARDED } from '../../core/contracts/shards.ts';
import { ValidationError } from '../../core/errors.ts';
import { windowOwner } from '../../core/policy/shards.ts';
import type { Clock } from '../../core/ports/clock.ts';
import type {
  CarryStore,
  GuardianState,
  ShardCoordination,
  TickLease,
} from '../../core/ports/guardian-state.ts';
import { carryKey, carryOf, trimCarry } from './carry.ts';
import {
  beatIfDue,
  checkpointOldest,
  type HostListing,
  runTick,
  type TickDeps,
  type TickMemory,
  type TickReport,
} from './tick.ts';

/**
 * The body of one clock message: which chain, the tick's scheduled time (epoch ms), and which
 * shard of which generation it ticks (absent: generation 0, shard 0, the unsharded chain).
 */
export const ChainMessage = z.strictObject({
  chain: z.string().min(1).max(64),
  at: z.number().int().nonnegative(),
  gen: z.number().int().nonnegative().optional(),
  shard: z.number().int().nonnegative().max(255).optional(),
  /** Containers the chain's previous tick decided (sharded fleets: the lease keeps it for the watchdog). */
  n: z.number().int().nonnegative().optional(),
});
export type ChainMessage = z.infer<typeof ChainMessage>;

/** A message delivered earlier than this before its tick's time is run at once (clock skew), ms. */
const MAX_EARLY_WAIT_MS = 2_000;
/** SQS caps DelaySeconds at 15 minutes. */
export const MAX_DELAY_S = 900;

/** Sends the next clock message with a delay, whole seconds. */
export interface TickScheduler {
  schedule(message: ChainMessage, delayS: number): Promise<void>;
}

/** The clock queue (SQS standard: only standard queues take a per-message DelaySeconds). */
export function sqsTickScheduler(sqs: SQSClient, queueUrl: string): TickScheduler {
  return {
    async schedule(message, delayS) {
      const valid = ChainMessage.parse(message);
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify(valid),
          DelaySeconds: Math.min(MAX_DELAY_S, Math.max(0, Math.round(delayS))),
        }),
      );
    },
  };
}

export interface ChainDeps extends TickDeps {
  state: GuardianState & TickLease;
  clock: Clock;
  scheduler: TickScheduler;
  /** This execution environment (one per process). */
  proc: string;
  /**
   * Persist each state kept in memory within this long, ms (default 5 min), a share every tick.
   * Their events reach the next environment through the carry; the stored states are what
   * operators read and what the other clock resumes from.
   */
  checkpointEveryMs?: number;
  /** Re-read whole host partitions (GUARD items changed by operators) this often, ms (default 5 min). */
  fullReadEveryMs?: number;
  /**
   * The longest a tick may sleep for its time when the next delay is rounded down to whole
   * seconds, ms (default 500: the delay is rounded to the nearest second; see nextTick).
   */
  maxWaitMs?: number;
  /** The shard record and leases; unset: the fleet is never sharded (generation 0, one shard). */
  shards?: ShardCoordination;
  /** Where a tick carries its live events to the chain's next tick (carry.ts); unset: nothing carried. */
  carry?: CarryStore;
}

export const CHAIN_DEFAULTS = {
  checkpointEveryMs: 300_000,
  fullReadEveryMs: 300_000,
  maxWaitMs: 500,
  /**
   * A process's host listing serves its chains' full reads this long, ms: a sharded fleet's ticks
   * mostly do not resume, and each would list the whole fleet otherwise (N listings a window).
   */
  listingMaxAgeMs: 60_000,
} as const;

/** What one process keeps between the ticks it runs. */
export interface ChainState {
  chain: string | null;
  memory: TickMemory;
  /** States owed to the rolling checkpoint (a fraction carried to the next tick). */
  checkpointCredit: number;
  /** The guards of the carry this process last wrote for the chain (carry.ts carryKey); null: none. */
  carryKey: string | null;
  /** When this process last wrote the control tick's heartbeat (null: not yet). */
  beatAt: number | null;
  /** The other shards' chains this process ran (generation/shard → state), a few at most. */
  shards?: Map<string, ChainState>;
  /** The host listing shared by every chain this process ticks (the root's; tick-read.ts). */
  listing: HostListing;
}

export function newChainState(): ChainState {
  return {
    chain: null,
    memory: { config: defaultConfig('guardian') },
    checkpointCredit: 0,
    carryKey: null,
    beatAt: null,
    listing: { maxAgeMs: CHAIN_DEFAULTS.listingMaxAgeMs, held: null },
  };
}

/**
 * Shards' chain states one process keeps (an execution environment may run any shard's message).
 * A state is used only if this environment ran its shard's previous tick, and an environment runs
 * about one shard tick a window (N ticks over about N environments): the last two cover that, and
 * each kept state is a shard's whole cache (a few MB at 5,000 containers).
 */
const MAX_SHARD_STATES = 2;

/** The state of the chain of `msg`'s shard in this process: `root` for the unsharded chain. */
export function chainStateFor(root: ChainState, msg: ChainMessage): ChainState {
  const gen = msg.gen ?? 0;
  const shard = msg.shard ?? 0;
  if (gen === 0 && shard === 0) return root;
  root.shards ??= new Map();
  const key = `${gen}/${shard}`;
  let state = root.shards.get(key);
  if (state === undefined) {
    state = newChainState();
    state.memory.config = root.memory.config;
    state.listing = root.listing;
    root.shards.set(key, state);
    for (const old of root.shards.keys()) {
      if (root.shards.size <= MAX_SHARD_STATES) break;
      root.shards.delete(old);
    }
  }
  return state;
}

/** What a tick did with its carry: written (its deflated bytes) or unchanged; the structures in it. */
export interface CarryOutcome {
  written: boolean;
  bytes: number;
  guards: number;
}

export type ChainOutcome =
  | {
      ran: true;
      report: TickReport | null;
      next: ChainMessage;
      delayS: number;
      resumed: boolean;
      carry: CarryOutcome | null;
    }
  | { ran: false; reason: 'duplicate-or-other-chain' | 'retired' }
  /** The window belongs to another generation (before this one's switch): not decided, the chain goes on. */
  | { ran: false; reason: 'not-this-generation'; next: ChainMessage; delayS: number };

/**
 * Whether the tick of `msg` may act on its window, from the shard record (read, strongly
 * consistent, only when the fleet is or may be sharded): the generation it acts in, or why not.
 */
async function shardVerdict(
  deps: ChainDeps,
  state: ChainState,
  msg: ChainMessage,
): Promise<{ verdict: 'act' | 'retired' | 'before'; record: ShardRecord }> {
  const gen = msg.gen ?? 0;
  const sharded = gen > 0 || (msg.shard ?? 0) > 0 || state.memory.config.SHARDS_MAX > 1;
  if (deps.shards === undefined || !sharded) return { verdict: 'act', record: UNSHARDED };
  const record = await deps.shards.readShards();
  return { verdict: windowOwner(record, gen, msg.at), record };
}

export function parseChainMessage(body: string | undefined): ChainMessage {
  let json: unknown;
  try {
    json = JSON.parse(body ?? '');
  } catch (err) {
    throw new ValidationError('clock message', [{ path: '', message: 'body is not JSON' }], { cause: err });
  }
  const parsed = ChainMessage.safeParse(json);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new ValidationError('clock message', [
      { path: i?.path.join('.') ?? '', message: i?.message ?? 'invalid' },
    ]);
  }
  return parsed.data;
}

/**
 * The next tick: one window on, or the next window boundary after now when the
 * tick overran. DelaySeconds is whole seconds, and a tick must never run before
 * its `at` (its window would end less than ≈ 1 s ago: VictoriaMetrics does not
 * answer that yet, i.e. no data). So the delay is rounded DOWN when the
 * remainder is at most `maxWaitMs` (the message arrives early and the tick
 * sleeps the remainder, billed) and UP otherwise (the tick runs late by the
 * rest of the second, free). 0 = always up; 1000 = always on time.
 */
export function nextTick(
  at: number,
  now: number,
  windowMs: number,
  maxWaitMs = 0,
): { at: number; delayS: number } {
  const next = Math.max(at + windowMs, Math.ceil((now + 1) / windowMs) * windowMs);
  const exactMs = Math.max(0, next - now);
  const wholeS = Math.floor(exactMs / 1000);
  const remainderMs = exactMs - wholeS * 1000;
  const delayS = remainderMs === 0 || remainderMs <= maxWaitMs ? wholeS : wholeS + 1;
  return { at: next, delayS: Math.min(MAX_DELAY_S, delayS) };
}

/** One clock message: run its tick under the lease, then enqueue the next one. */
export async function runChainedTick(
  deps: ChainDeps,
  state: ChainState,
  msg: ChainMessage,
): Promise<ChainOutcome> {
  const { state: store, clock, logger } = deps;
  // Never tick before the tick's time (a queue may deliver a delayed message early): its window
  // ends relative to `at`, and a window ending less than ≈ 1 s ago has no data yet.
  const early = msg.at - clock.now();
  if (early > 0) await clock.sleep(Math.min(early, MAX_EARLY_WAIT_MS));
  // The config as stored now, before anything else: the window (the lease lasts three of them), and
  // whether the fleet is sharded (then the shard record decides whether this window is this chain's).
  // This process's last config may be minutes old (its last tick of the chain may be), and an
  // unsharded chain that trusted it would tick a window a shard generation owns. Read once per
  // invocation (invocation-reads.ts): the tick's own read of it is the same.
  state.memory.config = (await store.loadConfig(state.memory.config)).config;
  const windowMs = state.memory.config.WINDOW_TIMELAPSE * 1000;
  const { verdict, record } = await shardVerdict(deps, state, msg);
  if (verdict === 'retired') {
    logger.info(
      { chain: msg.chain, at: msg.at, gen: msg.gen ?? 0 },
      'shard chain retired: a newer generation owns this window',
    );
    return { ran: false, reason: 'retired' };
  }
  const lease = await store.takeChainLease(msg, deps.proc, clock.now(), windowMs, msg.n);
  if (lease === null) {
    logger.info(
      { chain: msg.chain, at: msg.at },
      'clock message dropped: tick already run or another chain is live',
    );
    return { ran: false, reason: 'duplicate-or-other-chain' };
  }
  const resumed = lease === 'resume' && state.chain === msg.chain;
  if (!resumed) {
    // Someone else may have ticked since this process last did: nothing kept in memory is trusted.
    state.chain = msg.chain;
    state.memory = { config: state.memory.config };
    state.checkpointCredit = 0;
    state.carryKey = null;
    if (verdict === 'act') state.memory.carried = await readCarried(deps, record, msg);
  }
  let report: TickReport | null = null;
  let carry: CarryOutcome | null = null;
  const gen = record.current.gen === (msg.gen ?? 0) ? record.current : record.previous;
  if (verdict === 'act') {
    try {
      const fullReadEveryMs = deps.fullReadEveryMs ?? CHAIN_DEFAULTS.fullReadEveryMs;
      report = await runTick(
        {
          ...deps,
          fullReadEveryTicks: Math.max(1, Math.round(fullReadEveryMs / windowMs)),
          listing: state.listing,
          ...(gen === null || gen.shards === 1
            ? {}
            : { shard: { index: msg.shard ?? 0, count: gen.shards } }),
        },
        msg.at,
        state.memory,
      );
      // The chained clock writes the heartbeat too (GET /services shows a stale Guardian otherwise).
      state.beatAt = await beatIfDue(store, state.beatAt, clock.now(), logger);
      await rollingCheckpoint(deps, state, msg, report.unpersisted, windowMs);
      // Also at the last window of a generation being replaced: its events reach the next one
      // through the carry (the activity lines this environment holds go out at its next ticks).
      carry = await writeCarried(deps, state, msg);
    } catch (err) {
      // The chain must outlive a bad tick: log it and carry on at the next window.
      logger.error({ err, chain: msg.chain, at: msg.at }, 'control tick failed; the chain goes on');
    }
  }
  const next = nextTick(
    msg.at,
    clock.now(),
    state.memory.config.WINDOW_TIMELAPSE * 1000,
    deps.maxWaitMs ?? CHAIN_DEFAULTS.maxWaitMs,
  );
  const message: ChainMessage = {
    chain: msg.chain,
    at: next.at,
    ...(msg.gen === undefined ? {} : { gen: msg.gen }),
    ...(msg.shard === undefined ? {} : { shard: msg.shard }),
    ...(msg.gen === undefined && state.memory.config.SHARDS_MAX === 1
      ? {}
      : { n: report?.containers ?? msg.n ?? 0 }),
  };
  await deps.scheduler.schedule(message, next.delayS);
  if (verdict === 'before')
    return { ran: false, reason: 'not-this-generation', next: message, delayS: next.delayS };
  return { ran: true, report, next: message, delayS: next.delayS, resumed, carry };
}

const chainRef = (msg: ChainMessage): ShardRef => ({ gen: msg.gen ?? 0, shard: msg.shard ?? 0 });

/**
 * The carries a tick that does not resume lays over its full read: its chain's own, or, at a
 * generation's first tick (none of its own yet), every shard's of the generation it takes over
 * from (their hosts are now spread over this one's shards). A carry not read is logged: its
 * events are lost, the decisions go on.
 */
async function readCarried(deps: ChainDeps, record: ShardRecord, msg: ChainMessage): Promise<ChainCarry[]> {
  if (deps.carry === undefined) return [];
  const own = chainRef(msg);
  try {
    const read = await deps.carry.readCarries([own]);
    const prev = record.previous;
    if (read.carries.length === 0 && prev !== null && own.gen === record.current.gen) {
      const taken = await deps.carry.readCarries(
        Array.from({ length: prev.shards }, (_, shard) => ({ gen: prev.gen, shard })),
      );
      read.carries.push(...taken.carries);
      read.problems.push(...taken.problems);
    }
    for (const p of read.problems) deps.logger.warn({ problem: p }, 'carry refused: its events are lost');
    return read.carries;
  } catch (err) {
    deps.logger.warn({ err, chain: msg.chain }, 'carry not read: the events it held are lost');
    return [];
  }
}

/** Write the chain's carry when it changed since this process last wrote it (trimmed to fit an item). */
async function writeCarried(
  deps: ChainDeps,
  state: ChainState,
  msg: ChainMessage,
): Promise<CarryOutcome | null> {
  if (deps.carry === undefined) return null;
  let carry = carryOf(state.memory.cache, msg.at);
  const key = carryKey(carry);
  if (key === state.carryKey) return { written: false, bytes: 0, guards: carry.guards.length };
  for (;;) {
    try {
      const bytes = await deps.carry.writeCarry(chainRef(msg), carry);
      state.carryKey = key;
      return { written: true, bytes, guards: carry.guards.length };
    } catch (err) {
      if (err instanceof RangeError && carry.guards.length > 1) {
        // Over an item's size: the structures with the newest events first, half of them.
        carry = trimCarry(carry, Math.floor(carry.guards.length / 2));
        deps.logger.warn({ chain: msg.chain, kept: carry.guards.length }, 'carry trimmed to fit one item');
        continue;
      }
      deps.logger.warn(
        { err, chain: msg.chain },
        'carry not written: a tick elsewhere would lose its events',
      );
      return null;
    }
  }
}

/**
 * Persist a share of the states kept only in memory: `unpersisted` × window / checkpointEveryMs a
 * tick (fractions carried to the next), and every state dirty for a whole period, oldest first.
 */
async function rollingCheckpoint(
  deps: ChainDeps,
  state: ChainState,
  msg: ChainMessage,
  unpersisted: number,
  windowMs: number,
): Promise<void> {
  const every = deps.checkpointEveryMs ?? CHAIN_DEFAULTS.checkpointEveryMs;
  state.checkpointCredit += (unpersisted * windowMs) / every;
  const saved = await checkpointOldest(
    deps,
    state.memory,
    Math.floor(state.checkpointCredit),
    msg.at - every,
  );
  state.checkpointCredit = Math.max(0, state.checkpointCredit - saved.written - saved.stale);
  if (saved.written + saved.stale > 0)
    deps.logger.info({ chain: msg.chain, ...saved }, 'guardian checkpoint');
}

/**
 * The scheduled (once a minute) invocation in the chained clock: a live lease
 * means the chain ticks, and nothing is done; otherwise a new chain starts at
 * the next window. Two watchdogs racing start two chains; the lease keeps one.
 */
export async function watchdog(
  deps: {
    state: GuardianState & TickLease;
    clock: Clock;
    scheduler: TickScheduler;
    logger: TickDeps['logger'];
  },
  windowS?: number,
): Promise<{ alive: boolean; started: ChainMessage | null }> {
  const now = deps.clock.now();
  const expiresAt = await deps.state.leaseExpiresAt();
  if (expiresAt !== null && expiresAt > now) return { alive: true, started: null };
  const windowMs =
    1000 * (windowS ?? (await deps.state.loadConfig(defaultConfig('guardian'))).config.WINDOW_TIMELAPSE);
  const next = nextTick(now - windowMs, now, windowMs);
  const message = { chain: randomUUID(), at: next.at };
  await deps.scheduler.schedule(message, next.delayS);
  deps.logger.warn(
    { chain: message.chain, at: message.at },
    'control-tick clock was not ticking: new chain started',
  );
  return { alive: false, started: message };
}

/** The clock queue as the local event-source stand-in (local/scheduler.ts startQueueTrigger) reads it. */
export function sqsTriggerQueue(sqs: SQSClient, queueUrl: string) {
  return {
    async receive(waitS: number, signal: AbortSignal) {
      const out = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: waitS }),
        { abortSignal: signal },
      );
      return (out.Messages ?? []).map((m) => ({
        messageId: m.MessageId ?? '',
        receiptHandle: m.ReceiptHandle ?? '',
        body: m.Body ?? '',
      }));
    },
    async delete(receiptHandle: string) {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle }));
    },
  };
}
