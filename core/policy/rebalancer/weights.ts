/**
 * Weights: redistribute the participants' total allocation in proportion to
 * their weights, each capped at its max and never below its floor (min, and
 * its usage). The total is conserved exactly (integer largest-remainder rounding).
 *
 * Participation (the original framework wrote this test inverted, as
 * `current/usage < 1 − DIFF`, which almost never holds): a peer takes part when
 * its usage is known. The group is rebalanced only when it holds at least one
 * pressed peer (usage ≥ (1 − DIFF)·current: it is using nearly all it has) —
 * otherwise nobody needs more and moving resources would only churn.
 */
import { type BalanceParams, consolidate, floorOf, type Move, type Peer } from './peers.ts';

export function participates(p: Peer): boolean {
  return p.usage !== null && p.weight > 0;
}

export function isPressed(p: Peer, diff: number): boolean {
  return p.usage !== null && p.usage >= (1 - diff) * p.current;
}

/**
 * Integer targets whose sum is exactly `total`, each within [lo, hi], as close
 * as possible to total·wᵢ/Σw clamped to the bounds (water-filling).
 * Requires Σlo ≤ total ≤ Σhi.
 */
export function weightedTargets(
  items: readonly { weight: number; lo: number; hi: number }[],
  total: number,
): number[] {
  const sumLo = items.reduce((s, i) => s + i.lo, 0);
  const sumHi = items.reduce((s, i) => s + i.hi, 0);
  if (total < sumLo || total > sumHi)
    throw new Error(`weightedTargets: total ${total} outside [${sumLo}, ${sumHi}]`);
  const at = (lambda: number) => items.map((i) => Math.min(i.hi, Math.max(i.lo, lambda * i.weight)));
  const sumAt = (lambda: number) => at(lambda).reduce((s, v) => s + v, 0);
  // f(λ) = Σ clamp(λ·wᵢ, loᵢ, hiᵢ) is continuous and non-decreasing: bisect f(λ) = total.
  let low = 0;
  let high = 1;
  while (sumAt(high) < total && high < 1e15) high *= 2;
  for (let k = 0; k < 200 && high - low > 1e-12 * high; k++) {
    const mid = (low + high) / 2;
    if (sumAt(mid) < total) low = mid;
    else high = mid;
  }
  const real = at(high);
  const out = real.map((v, idx) => {
    const i = items[idx] as { lo: number; hi: number };
    return Math.min(i.hi, Math.max(i.lo, Math.floor(v)));
  });
  let residual = total - out.reduce((s, v) => s + v, 0);
  // Hand out (or take back) the remaining units by largest (smallest) fractional part, within bounds.
  const order = real
    .map((v, idx) => ({ idx, frac: v - Math.floor(v) }))
    .sort((a, b) => b.frac - a.frac || a.idx - b.idx);
  while (residual !== 0) {
    let changed = false;
    const seq = residual > 0 ? order : [...order].reverse();
    for (const { idx } of seq) {
      if (residual === 0) break;
      const i = items[idx] as { lo: number; hi: number };
      const v = out[idx] as number;
      if (residual > 0 && v < i.hi) {
        out[idx] = v + 1;
        residual -= 1;
        changed = true;
      } else if (residual < 0 && v > i.lo) {
        out[idx] = v - 1;
        residual += 1;
        changed = true;
      }
    }
    if (!changed) throw new Error('weightedTargets: bounds cannot absorb the residual');
  }
  return out;
}

/** Plan the moves of one group by weights. */
export function planWeights(peers: readonly Peer[], params: Pick<BalanceParams, 'diff'>): Move[] {
  const group = peers[0]?.group;
  if (group === undefined) return [];
  if (peers.some((p) => p.group !== group)) throw new Error('planWeights: peers of several groups');
  const part = peers.filter(participates);
  if (part.length < 2 || !part.some((p) => isPressed(p, params.diff))) return [];
  const total = part.reduce((s, p) => s + p.current, 0);
  const weightSum = part.reduce((s, p) => s + p.weight, 0);
  const targets = weightedTargets(
    part.map((p) => ({ weight: p.weight, lo: floorOf(p), hi: Math.max(p.max, p.current) })),
    total,
  );
  const deltas = part.map((p, i) => ({ peer: p, delta: (targets[i] as number) - p.current }));
  const givers = deltas.filter((d) => d.delta < 0).map((d) => ({ ...d, left: -d.delta }));
  const takers = deltas.filter((d) => d.delta > 0).map((d) => ({ ...d, left: d.delta }));
  const moves: Move[] = [];
  // Pair givers and takers greedily, largest first: at most (givers + takers − 1) moves.
  givers.sort((a, b) => b.left - a.left);
  takers.sort((a, b) => b.left - a.left);
  let t = 0;
  for (const g of givers) {
    while (g.left > 0) {
      const taker = takers[t];
      if (taker === undefined) break;
      const amount = Math.min(g.left, taker.left);
      g.left -= amount;
      taker.left -= amount;
      if (taker.left === 0) t += 1;
      const share = (p: Peer) => Math.round((1000 * p.weight) / weightSum) / 10;
      moves.push({
        from: g.peer.name,
        to: taker.peer.name,
        group,
        amount,
        reasons: [
          {
            source: 'rebalancer',
            text: `weights: ${taker.peer.name} (weight ${share(taker.peer)} %) takes from ${g.peer.name} (weight ${share(g.peer)} %) of a ${total} total`,
            values: {
              total,
              giverWeight: g.peer.weight,
              takerWeight: taker.peer.weight,
              weightSum,
            },
          },
        ],
      });
    }
  }
  return consolidate(moves);
}
