/**
 * The chained clock's watchdog when the fleet is (or may be) sharded
 * (docs/shards.md): once a minute it sizes the shard count from the guarded
 * containers the shards' leases carry, records a new generation when the count
 * changes (at a window boundary far enough ahead that every tick of a window
 * from then on starts after the record exists), and restarts every shard chain
 * whose lease has expired, each on its own, so one broken shard never stops
 * the others. With no shard record yet it counts the fleet itself, so a large
 * fleet starts at its shard count instead of one tick of every container.
 * SHARDS_MAX 1 and no shard record: the unsharded watchdog (chain.ts).
 */
import { randomUUID } from 'node:crypto';
import { defaultConfig, type GuardianConfig } from '../../core/contracts/service-config.ts';
import type { ShardGeneration, ShardRecord } from '../../core/contracts/shards.ts';
import { desiredShards, planSwitch } from '../../core/policy/shards.ts';
import type { Clock } from '../../core/ports/clock.ts';
import type {
  GuardianState,
  ShardCoordination,
  ShardLease,
  TickLease,
} from '../../core/ports/guardian-state.ts';
import { type ChainMessage, nextTick, type TickScheduler, watchdog } from './chain.ts';
import type { TickDeps } from './tick.ts';

/** How long a tick may run before its window's time (chain.ts waits at most 2 s for an early message), ms. */
const EARLY_TICK_MS = 2_000;

/** A new generation starts this far ahead at least: two windows, and the early start of a tick, plus a second. */
export function switchLeadMs(windowMs: number): number {
  return 2 * windowMs + EARLY_TICK_MS + 1_000;
}

/** Host states read at once when the watchdog counts the fleet (bounds its memory, not its reads). */
const COUNT_HOSTS_AT_ONCE = 500;

/**
 * The containers the shards would decide, from the hosts' states (eventually consistent, as a
 * lean tick reads them), a batch of hosts at a time: at container level those with guard on; at
 * application level every container, as a shard reads every container of its hosts (an upper
 * bound: the shards' leases give the exact count later, and the watchdog shrinks to it).
 */
export async function countGuardedContainers(
  state: GuardianState,
  structureGuarded: GuardianConfig['STRUCTURE_GUARDED'],
): Promise<number> {
  const hosts = await state.listHosts();
  let count = 0;
  for (let i = 0; i < hosts.length; i += COUNT_HOSTS_AT_ONCE) {
    const states = await state.readHostStates(hosts.slice(i, i + COUNT_HOSTS_AT_ONCE));
    for (const read of states.values()) {
      if ('problem' in read) continue; // the tick skips it too
      for (const c of Object.values(read.host.containers))
        if (structureGuarded === 'application' || c.guard) count += 1;
    }
  }
  return count;
}

export interface ShardWatchdogDeps {
  state: GuardianState & TickLease;
  shards: ShardCoordination;
  clock: Clock;
  scheduler: TickScheduler;
  logger: TickDeps['logger'];
}

export interface ShardWatchdogResult {
  /** Every shard chain of the generations still to act was alive. */
  alive: boolean;
  /** The first chain started (the unsharded watchdog's field), null when none was. */
  started: ChainMessage | null;
  /** Every chain started. */
  restarted: ChainMessage[];
  record: ShardRecord;
  /** A new generation was recorded by this run. */
  switched: boolean;
}

/** Live shard chains are left alone; every other one of `gen` starts at its next window it owns. */
async function restartDead(
  deps: ShardWatchdogDeps,
  gen: ShardGeneration,
  leases: readonly ShardLease[],
  until: number,
  windowMs: number,
): Promise<ChainMessage[]> {
  const now = deps.clock.now();
  const started: ChainMessage[] = [];
  for (const lease of leases) {
    if (lease.expiresAt !== null && lease.expiresAt > now) continue;
    const boundary = nextTick(now - windowMs, now, windowMs);
    const at = Math.max(gen.from, boundary.at);
    if (at >= until) continue; // the window belongs to the next generation
    const message: ChainMessage = { chain: randomUUID(), at, gen: gen.gen, shard: lease.shard };
    try {
      await deps.scheduler.schedule(message, Math.ceil(Math.max(0, at - now) / 1000));
      started.push(message);
      deps.logger.warn(
        { chain: message.chain, at, gen: gen.gen, shard: lease.shard, lastAt: lease.lastAt },
        'shard chain was not ticking: new chain started',
      );
    } catch (err) {
      // One shard's restart failing must not keep the others down.
      deps.logger.error({ err, gen: gen.gen, shard: lease.shard }, 'shard chain not restarted');
    }
  }
  return started;
}

/** Size the shard count and record a new generation when it changes (one switch at a time). */
async function resize(
  deps: ShardWatchdogDeps,
  record: ShardRecord,
  leases: readonly ShardLease[],
  sizing: { SHARD_CONTAINERS: number; SHARDS_MAX: number },
  windowMs: number,
): Promise<ShardRecord | null> {
  const counts = leases.map((l) => l.containers);
  // A shard that has not ticked yet (or not since this code) has no count: wait for it.
  if (counts.some((c) => c === null) && record.current.shards <= sizing.SHARDS_MAX) return null;
  const total = counts.reduce<number>((a, c) => a + (c ?? 0), 0);
  const desired = desiredShards(total, record.current.shards, sizing);
  const now = deps.clock.now();
  const next = planSwitch(record, desired, now, windowMs, switchLeadMs(windowMs));
  if (next === null) return null;
  if (!(await deps.shards.writeShards(next, record.version))) return null; // another watchdog switched
  deps.logger.warn(
    {
      from: record.current.shards,
      to: desired,
      containers: total,
      gen: next.current.gen,
      at: next.current.from,
    },
    'shard count changed: a new generation takes over at its first window',
  );
  return next;
}

/**
 * No shard record yet (generation 0) and SHARDS_MAX > 1: record generation 1 sized from the fleet
 * itself. Waiting for the unsharded chain's lease to carry a count would first run one tick of the
 * whole fleet (≈ 50 s at 100,000 containers). The record now stored: ours, the one a racing
 * watchdog wrote first, or `record` unchanged when the fleet fits one shard.
 */
async function bootstrap(
  deps: ShardWatchdogDeps,
  record: ShardRecord,
  config: GuardianConfig,
  windowMs: number,
): Promise<{ record: ShardRecord; switched: boolean }> {
  const containers = await countGuardedContainers(deps.state, config.STRUCTURE_GUARDED);
  const desired = desiredShards(containers, record.current.shards, config);
  const next = planSwitch(record, desired, deps.clock.now(), windowMs, switchLeadMs(windowMs));
  if (next === null) return { record, switched: false };
  if (!(await deps.shards.writeShards(next, record.version))) {
    // Another watchdog recorded the first generation: act on its record, not on generation 0.
    return { record: await deps.shards.readShards(), switched: false };
  }
  deps.logger.warn(
    { to: desired, containers, gen: next.current.gen, at: next.current.from },
    'no shard record: the first generation, sized from the fleet, takes over at its first window',
  );
  return { record: next, switched: true };
}

export async function shardWatchdog(deps: ShardWatchdogDeps): Promise<ShardWatchdogResult> {
  const { config } = await deps.state.loadConfig(defaultConfig('guardian'));
  let record = await deps.shards.readShards();
  if (config.SHARDS_MAX === 1 && record.current.gen === 0) {
    const legacy = await watchdog(deps, config.WINDOW_TIMELAPSE);
    return { ...legacy, restarted: legacy.started === null ? [] : [legacy.started], record, switched: false };
  }
  const windowMs = config.WINDOW_TIMELAPSE * 1000;
  let booted = false;
  if (record.current.gen === 0)
    ({ record, switched: booted } = await bootstrap(deps, record, config, windowMs));
  let leases = await deps.shards.shardLeases(record.current);
  const next = await resize(deps, record, leases, config, windowMs);
  const restarted: ChainMessage[] = [];
  if (next !== null) {
    record = next;
    leases = await deps.shards.shardLeases(record.current);
  }
  const now = deps.clock.now();
  const prev = record.previous;
  // The old generation still owns the windows up to the switch: keep its chains going until then.
  // Not a stopped unsharded chain (generation 0): restarting it would run the tick of the whole
  // fleet that the first generation is there to avoid; the fleet starts at that generation's window.
  if (prev !== null && record.current.from > now && prev.gen > 0) {
    restarted.push(
      ...(await restartDead(deps, prev, await deps.shards.shardLeases(prev), record.current.from, windowMs)),
    );
  }
  restarted.push(...(await restartDead(deps, record.current, leases, Number.POSITIVE_INFINITY, windowMs)));
  return {
    alive: restarted.length === 0,
    started: restarted[0] ?? null,
    restarted,
    record,
    switched: booted || next !== null,
  };
}
