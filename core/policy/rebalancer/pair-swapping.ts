/**
 * Pair swapping: within a group, donors whose allocation sits far above their
 * usage give STOLEN_PERCENTAGE of their surplus, in slices, to receivers whose
 * usage is close to their allocation.
 *
 * - donor:    usage < (1 − DIFF)·current          (more than DIFF of the allocation idle)
 * - receiver: usage ≥ (1 − DIFF/2)·current, current < max
 *   The gap between the two thresholds is hysteresis: with the defaults
 *   (DIFF = STOLEN = 0.4) a donor is left at c' = 0.6c + 0.4u with u < 0.6c, so
 *   u/c' < 0.6c/(0.6c+0.4u) … < 0.71 < 0.8, and it can never turn receiver the
 *   next period and take its donation back.
 * - donation: floor(STOLEN × (current − max(min, ⌈usage⌉))), never below min or usage.
 * - receivers are served round-robin one slice at a time, most pressed first
 *   (highest usage/current, then lowest current); none goes above its max.
 */
import { type BalanceParams, consolidate, floorOf, type Move, type Peer } from './peers.ts';

export type Role = 'donor' | 'receiver' | 'neither';

export function roleOf(p: Peer, diff: number): Role {
  if (p.usage === null) return 'neither';
  if (p.current <= 0) return p.current < p.max ? 'receiver' : 'neither';
  if (p.usage < (1 - diff) * p.current) return floorOf(p) < p.current ? 'donor' : 'neither';
  if (p.usage >= (1 - diff / 2) * p.current && p.current < p.max) return 'receiver';
  return 'neither';
}

export function donationOf(p: Peer, stolen: number): number {
  return Math.max(0, Math.floor(stolen * (p.current - floorOf(p))));
}

/** Plan the moves of one group. Peers of other groups must not be passed together. */
export function planPairSwaps(peers: readonly Peer[], params: BalanceParams): Move[] {
  const group = peers[0]?.group;
  if (group === undefined) return [];
  if (peers.some((p) => p.group !== group)) throw new Error('planPairSwaps: peers of several groups');
  const slice = Math.max(1, Math.floor(params.slice));
  const donors = peers
    .filter((p) => roleOf(p, params.diff) === 'donor')
    .map((p) => ({ peer: p, left: donationOf(p, params.stolen) }))
    .filter((d) => d.left > 0)
    .sort((a, b) => b.left - a.left || a.peer.name.localeCompare(b.peer.name));
  const receivers = peers
    .filter((p) => roleOf(p, params.diff) === 'receiver')
    .map((p) => ({ peer: p, room: p.max - p.current }))
    .sort(
      (a, b) =>
        pressure(b.peer) - pressure(a.peer) ||
        a.peer.current - b.peer.current ||
        a.peer.name.localeCompare(b.peer.name),
    );
  if (donors.length === 0 || receivers.length === 0) return [];

  const moves: Move[] = [];
  let r = 0;
  for (const d of donors) {
    while (d.left > 0) {
      const open = receivers.filter((x) => x.room > 0);
      if (open.length === 0) return consolidate(moves);
      const recv = receivers[r % receivers.length];
      r += 1;
      if (recv === undefined || recv.room <= 0) continue;
      const amount = Math.min(slice, d.left, recv.room);
      d.left -= amount;
      recv.room -= amount;
      moves.push({
        from: d.peer.name,
        to: recv.peer.name,
        group,
        amount,
        reasons: [
          {
            source: 'rebalancer',
            text: `pair swap: ${d.peer.name} (usage ${fmt(d.peer.usage)} of ${d.peer.current}) gives to ${recv.peer.name} (usage ${fmt(recv.peer.usage)} of ${recv.peer.current})`,
            values: {
              donorCurrent: d.peer.current,
              donorUsage: d.peer.usage,
              receiverCurrent: recv.peer.current,
              receiverUsage: recv.peer.usage,
              diff: params.diff,
              stolen: params.stolen,
            },
          },
        ],
      });
    }
  }
  return consolidate(moves);
}

function pressure(p: Peer): number {
  return p.usage === null || p.current <= 0 ? Number.POSITIVE_INFINITY : p.usage / p.current;
}

function fmt(v: number | null): string {
  return v === null ? 'n/a' : String(Math.round(v * 10) / 10);
}
