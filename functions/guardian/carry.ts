/**
 * The carry between a chain's ticks (core/contracts/carry.ts; docs/shards.md,
 * "Carry"). SQS hands a chain's next clock message to any warm execution
 * environment, so a tick mostly runs where the chain's previous one did not,
 * and the events that tick kept in memory would be lost until the next
 * checkpoint: rules that need several events in a row would fire late or
 * never. Each tick therefore writes its structures' live events that the
 * stored guard states lack (one deflated item per chain, only when they
 * changed), and a tick that does not resume lays them over its full read.
 */
import type { CarriedGuard, ChainCarry } from '../../core/contracts/carry.ts';
import type { GuardState } from '../../core/contracts/guard-state.ts';
import { type GuardRef, guardId } from '../../core/ports/guardian-state.ts';

/** What the carry reads and sets of a tick cache's entry (tick-read.ts CachedGuard). */
interface CarryEntry {
  ref: GuardRef;
  state: GuardState | null;
  stored: number | null;
  dirty: boolean;
  dirtySince?: number;
}
/** The tick cache's entries by guardId (tick-read.ts TickCache). */
interface CarryCache {
  guards: Map<string, CarryEntry>;
}

/** The carry of a tick's cache: every structure whose live events are not in its stored guard state. */
export function carryOf(cache: CarryCache | undefined, at: number): ChainCarry {
  const guards: CarriedGuard[] = [];
  for (const e of cache?.guards.values() ?? []) {
    if (!e.dirty || e.state === null || e.stored === null || e.state.events.length === 0) continue;
    guards.push([
      e.ref.host ?? '',
      e.ref.structure,
      e.stored,
      e.state.events.map((ev) => [ev.rule, ev.resource, ev.direction, ev.timestamp]),
    ]);
  }
  return { v: 1, at, guards };
}

/**
 * Lay the carried events over the full read's entries: an entry takes them only when its stored
 * version is still the carried one (a guard written since, by a request or an operator, wins), from
 * the newest carry that names it. The entry is then dirty (its events are not stored). Returns how
 * many entries took events.
 */
export function overlayCarries(cache: CarryCache, carries: readonly ChainCarry[], now: number): number {
  const newest = new Map<string, { at: number; guard: CarriedGuard }>();
  for (const carry of carries)
    for (const guard of carry.guards) {
      const id = guardId({ host: guard[0] === '' ? null : guard[0], structure: guard[1] });
      const seen = newest.get(id);
      if (seen === undefined || seen.at < carry.at) newest.set(id, { at: carry.at, guard });
    }
  let taken = 0;
  for (const [id, { guard }] of newest) {
    const entry: CarryEntry | undefined = cache.guards.get(id);
    if (entry === undefined || entry.state === null || entry.stored !== guard[2]) continue;
    entry.state = {
      ...entry.state,
      events: guard[3].map(([rule, resource, direction, timestamp]) => ({
        structure: entry.ref.structure,
        rule,
        resource,
        direction,
        timestamp,
      })),
    };
    if (!entry.dirty) entry.dirtySince = now;
    entry.dirty = true;
    taken += 1;
  }
  return taken;
}

/** The carry cut to `keep` structures: those with the newest events. */
export function trimCarry(carry: ChainCarry, keep: number): ChainCarry {
  const newest = (g: CarriedGuard) => Math.max(...g[3].map((e) => e[3]));
  return { ...carry, guards: [...carry.guards].sort((a, b) => newest(b) - newest(a)).slice(0, keep) };
}

/** The same carry as last written (nothing to write): its guards, compared as written. */
export function carryKey(carry: ChainCarry): string {
  return JSON.stringify(carry.guards);
}
