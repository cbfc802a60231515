import type { Peer } from '../../../../../core/policy/rebalancer/peers.ts';

/** A peer in group 'g' with cpu-like numbers; override what the test is about. */
export function aPeer(name: string, over: Partial<Peer> = {}): Peer {
  return { name, group: 'g', current: 200, min: 50, max: 400, usage: 100, weight: 1, ...over };
}
