/**
 * The ReBalancer's view of one resource of one structure, and a move of
 * resource between two peers. Pure data: both balancing methods work on these.
 */
import type { Reason } from '../../contracts/reason.ts';

export interface Peer {
  name: string;
  /** Peers exchange resources only within one group (e.g. one host, one user's applications). */
  group: string;
  /** Allocation being balanced, in the resource's unit. */
  current: number;
  min: number;
  max: number;
  /** Mean usage over the window; null = no data (such a peer neither gives nor takes). */
  usage: number | null;
  /** Share used by the weights method (> 0). */
  weight: number;
}

/** `amount` units go from `from` (donor) to `to` (receiver), both in `group`. */
export interface Move {
  from: string;
  to: string;
  group: string;
  amount: number;
  reasons: Reason[];
}

export interface BalanceParams {
  /** DIFF_PERCENTAGE, 0–1: how far usage must sit below the allocation to donate. */
  diff: number;
  /** STOLEN_PERCENTAGE, 0–1: share of a donor's surplus given per period. */
  stolen: number;
  /** Slice size (units) in which a donation is handed out to receivers. */
  slice: number;
}

/**
 * The lowest allocation a donor may be taken down to: its min, and never below
 * what it is using (rounded up to whole units). Never above current, so a peer
 * already below min or usage simply has nothing to give.
 */
export function floorOf(p: Peer): number {
  const used = p.usage === null ? p.current : Math.ceil(p.usage);
  return Math.min(p.current, Math.max(p.min, used));
}

/** Apply moves to peers (simulation and property tests): receiver +amount, donor −amount. */
export function applyMoves(peers: readonly Peer[], moves: readonly Move[]): Peer[] {
  const byName = new Map(peers.map((p) => [p.name, { ...p }]));
  for (const m of moves) {
    const from = byName.get(m.from);
    const to = byName.get(m.to);
    if (from === undefined || to === undefined)
      throw new Error(`move between unknown peers ${m.from}→${m.to}`);
    from.current -= m.amount;
    to.current += m.amount;
  }
  return [...byName.values()];
}

/** Merge moves between the same donor and receiver into one (fewer requests, same effect). */
export function consolidate(moves: readonly Move[]): Move[] {
  const merged = new Map<string, Move>();
  for (const m of moves) {
    const key = `${m.group}\u0000${m.from}\u0000${m.to}`;
    const prev = merged.get(key);
    if (prev === undefined) merged.set(key, { ...m, reasons: [...m.reasons] });
    else prev.amount += m.amount;
  }
  return [...merged.values()].filter((m) => m.amount > 0).sort((a, b) => b.amount - a.amount);
}
