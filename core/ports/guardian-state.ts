/**
 * Ports the Guardian's use cases consume (implemented by
 * adapters/dynamodb/guardian-store.ts; in-memory fakes in test/support/fake-guardian-state.ts).
 * The Guardian names a guard state by a `GuardRef`, never by a table key.
 */
import type { Activity } from '../contracts/activity.ts';
import type { ChainCarry } from '../contracts/carry.ts';
import type { GuardState } from '../contracts/guard-state.ts';
import type { HostState } from '../contracts/host.ts';
import type { Rule } from '../contracts/rule.ts';
import type { GuardianConfig } from '../contracts/service-config.ts';
import type { ShardGeneration, ShardRecord, ShardRef } from '../contracts/shards.ts';
import type { Application } from '../contracts/structure.ts';

/** A stored item refused by its schema: named, with the field and the message. */
export interface Problem {
  what: string;
  field: string;
  message: string;
}

/** Which guard state: a container's (on its host) or an application's (`host` null). */
export interface GuardRef {
  host: string | null;
  structure: string;
}

/** One guard state as read: parsed, or the problem that made it unusable. */
export type GuardRead = { state: GuardState } | { problem: Problem };

/** One host's partition read at once: its state and its containers' guard states. */
export interface HostRead {
  host: HostState | null;
  /** Guard states by container. */
  guards: Map<string, GuardRead>;
  problems: Problem[];
}

/** One application with its guard state. */
export interface AppRead {
  app: Application | null;
  guard: GuardRead | null;
  problems: Problem[];
}

/** One line of activity; `host`: the host whose partition packs it (null/absent: a line on its own). */
export interface ActivityLine {
  activity: Activity;
  seq: string;
  host?: string | null;
}

/** Where the tick's activity lines wait to be written (packed per host), flushed when due. */
export interface ActivityHold {
  recordActivity(lines: readonly ActivityLine[]): Promise<void>;
  /** Write the lines that are due at `nowMs` (all of them with `all`); a failure keeps them held. */
  flush(nowMs: number, opts?: { all?: boolean }): Promise<number>;
  readonly size: number;
}

/** What one Guardian tick reads and writes. */
export interface GuardianState {
  /** The guardian's service config; a broken one is a problem and `fallback` is kept. Hot reload. */
  loadConfig(fallback: GuardianConfig): Promise<{ config: GuardianConfig; problems: Problem[] }>;
  /** Every stored rule checked against `config`; refused ones are problems. Hot reload. */
  loadRules(config: GuardianConfig): Promise<{ rules: Rule[]; problems: Problem[] }>;
  listHosts(): Promise<string[]>;
  /**
   * A host's state and guard states, strongly consistent unless `consistent: false` (a shard tick
   * that did not run its shard's previous tick: half the read units; a guard state read stale loses
   * its conditional write and is adopted).
   */
  readHost(host: string, opts?: { consistent?: boolean }): Promise<HostRead>;
  /** The hosts' states only (eventually consistent); a host with no state is absent. */
  readHostStates(hosts: readonly string[]): Promise<Map<string, { host: HostState } | { problem: Problem }>>;
  /** Guard states of containers (strongly consistent), by `guardId`; null: none stored. */
  readGuards(refs: readonly GuardRef[]): Promise<Map<string, GuardRead | null>>;
  listApplications(): Promise<string[]>;
  /**
   * The hosts of `containers` (unknown ones absent), eventually consistent: an application's
   * owner shard finds its members on other shards' hosts. Needed only with more than one shard.
   */
  locateContainers?(containers: readonly string[]): Promise<Map<string, string>>;
  readApplication(name: string): Promise<AppRead>;
  /** Conditional write on `expectedVersion` (null: must not exist); a lost race throws StaleStateError. */
  writeGuard(ref: GuardRef, state: GuardState, expectedVersion: number | null): Promise<void>;
  /** One guard state read back (after a lost race); null: none stored. */
  readGuard(ref: GuardRef): Promise<GuardRead | null>;
  /** Write activity lines now (packed per host). */
  recordActivity(lines: readonly ActivityLine[]): Promise<void>;
  /** Requests made to the store so far (the tick reports its share). */
  readonly counters: { readonly reads: number; readonly writes: number };
}

/** The one-Guardian-at-a-time lease, in both clocks (run-ticks.ts, chain.ts). */
export interface TickLease {
  /** Take or renew the lease until `expiresAt`; false when another owner holds a live one. */
  takeLease(owner: string, now: number, expiresAt: number): Promise<boolean>;
  /** Let it go (only if `owner` still holds it). */
  releaseLease(owner: string): Promise<void>;
  /**
   * Take the lease for the tick `at` of `chain`: 'resume' when `proc` ran the chain's previous tick,
   * 'take' when the chain continues elsewhere or starts, null when that tick ran already or another
   * chain holds a live lease.
   */
  takeChainLease(
    msg: { chain: string; at: number; gen?: number | undefined; shard?: number | undefined },
    proc: string,
    now: number,
    windowMs: number,
    containers?: number,
  ): Promise<'resume' | 'take' | null>;
  /** When the lease held now expires (epoch ms); null when none is stored. */
  leaseExpiresAt(): Promise<number | null>;
  /** Write the service's heartbeat (GET /services shows a stale one). */
  recordHeartbeat(service: 'guardian' | 'scaler', atMs: number): Promise<void>;
}

/** One shard chain's lease as the watchdog and the sanity sweep see it. */
export interface ShardLease {
  shard: number;
  /** Scheduled time of the shard's last tick; null: it never ticked. */
  lastAt: number | null;
  expiresAt: number | null;
  /** Guarded containers the shard decided at its previous tick; null: unknown. */
  containers: number | null;
}

/** The shard record and the shards' leases (the chained clock with SHARDS_MAX > 1). */
export interface ShardCoordination {
  /** The shard record, strongly consistent; a fleet without one is UNSHARDED. */
  readShards(): Promise<ShardRecord>;
  /** Write `next` if the stored record is still at `expectedVersion` (0: none stored); false on a lost race. */
  writeShards(next: ShardRecord, expectedVersion: number): Promise<boolean>;
  /** The leases of every shard of `gen`, by shard id. */
  shardLeases(gen: ShardGeneration): Promise<ShardLease[]>;
}

/**
 * The carry between a chain's ticks (core/contracts/carry.ts): written by a tick, read by the next
 * tick of the chain (or of the generation that takes its hosts over) when it runs elsewhere.
 */
export interface CarryStore {
  /** The carries stored for these chains, strongly consistent (none stored: left out); a refused one is a problem. */
  readCarries(chains: readonly ShardRef[]): Promise<{ carries: ChainCarry[]; problems: Problem[] }>;
  /** Write a chain's carry over the last one; returns its stored (deflated) size in bytes. */
  writeCarry(chain: ShardRef, carry: ChainCarry): Promise<number>;
}

/** A stable id of a guard state, for maps. */
export function guardId(ref: GuardRef): string {
  return ref.host === null ? `app|${ref.structure}` : `host|${ref.host}|${ref.structure}`;
}
