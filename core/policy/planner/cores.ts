/**
 * CPU core placement on a host's core map (pure). Every logical CPU holds 100
 * shares; a container's shares are spread over cores it is pinned to.
 *
 * Distribution order ("Group_PP_LL" in the original framework): the first
 * thread of every physical core, socket by socket, then the SMT siblings in
 * the same socket-by-socket order. Scale-ups fill the container's own cores
 * first, then wholly free cores, then partially free ones, each in that order;
 * scale-downs release the cores the container uses least first.
 */

import type { CoreTopology, CoreUsage, HostCapacity } from '../../contracts/host.ts';
import { own } from '../../contracts/keyed.ts';
import { SHARES_PER_CORE } from '../../contracts/units.ts';

export type CoreMap = Record<string, CoreUsage>;

const orderCache = new WeakMap<readonly CoreTopology[], string[]>();

/** Logical CPU ids in distribution order: physical cores across sockets first, siblings last. */
export function distributionOrder(topology: readonly CoreTopology[]): readonly string[] {
  const cached = orderCache.get(topology);
  if (cached !== undefined) return cached;
  const order = computeOrder(topology);
  orderCache.set(topology, order);
  return order;
}

function computeOrder(topology: readonly CoreTopology[]): string[] {
  const byPhysical = new Map<string, CoreTopology[]>();
  for (const t of topology) {
    const key = `${t.socket}:${t.core}`;
    const list = byPhysical.get(key) ?? [];
    list.push(t);
    byPhysical.set(key, list);
  }
  const ranked: { id: string; thread: number; socket: number; core: number }[] = [];
  for (const list of byPhysical.values()) {
    list.sort((a, b) => Number(a.id) - Number(b.id));
    list.forEach((t, thread) => {
      ranked.push({ id: t.id, thread, socket: t.socket, core: t.core });
    });
  }
  ranked.sort(
    (a, b) => a.thread - b.thread || a.socket - b.socket || a.core - b.core || Number(a.id) - Number(b.id),
  );
  return ranked.map((r) => r.id);
}

/** A fresh core map for a topology: every core wholly free. */
export function emptyCoreMap(topology: readonly CoreTopology[]): CoreMap {
  const map: CoreMap = {};
  for (const t of topology) map[t.id] = { free: SHARES_PER_CORE, alloc: {} };
  return map;
}

export function cloneCoreMap(cores: CoreMap): CoreMap {
  const out: CoreMap = {};
  for (const [id, u] of Object.entries(cores)) out[id] = { free: u.free, alloc: { ...u.alloc } };
  return out;
}

/** Shares a container holds on the map. */
export function sharesOf(cores: CoreMap, container: string): number {
  let sum = 0;
  for (const u of Object.values(cores)) sum += own(u.alloc, container) ?? 0;
  return sum;
}

/** Core ids the container holds shares on, in numeric order. */
export function coresOf(cores: CoreMap, container: string): string[] {
  const ids: string[] = [];
  let sorted = true;
  for (const id in cores) {
    if ((own(own(cores, id)?.alloc, container) ?? 0) <= 0) continue;
    if (sorted && ids.length > 0 && Number(ids[ids.length - 1]) > Number(id)) sorted = false;
    ids.push(id);
  }
  // Integer-like keys already enumerate in ascending order; sort only when they did not.
  return sorted ? ids : ids.sort((a, b) => Number(a) - Number(b));
}

/**
 * Place `shares` more shares for `container`, mutating `cores`. Returns the
 * shares actually placed (less than asked when the map runs out).
 */
export function placeShares(
  cores: CoreMap,
  order: readonly string[],
  container: string,
  shares: number,
): number {
  let remaining = shares;
  // Pass 0: the container's own cores, 1: wholly free cores, 2: any core with room.
  for (let pass = 0; pass < 3 && remaining > 0; pass++) {
    for (const id of order) {
      const u = own(cores, id);
      if (u === undefined || u.free <= 0) continue;
      if (pass === 0 && (own(u.alloc, container) ?? 0) <= 0) continue;
      if (pass === 1 && u.free !== SHARES_PER_CORE) continue;
      const n = Math.min(u.free, remaining);
      u.free -= n;
      u.alloc[container] = (own(u.alloc, container) ?? 0) + n;
      remaining -= n;
      if (remaining <= 0) break;
    }
  }
  return shares - remaining;
}

/**
 * Release `shares` of `container`, mutating `cores`: least-used cores first
 * (ties: later in the distribution order first, so siblings go before
 * physical cores). Returns the shares actually released.
 */
export function releaseShares(
  cores: CoreMap,
  order: readonly string[],
  container: string,
  shares: number,
): number {
  const rank = rankOf(order);
  const held = Object.keys(cores)
    .filter((id) => (own(own(cores, id)?.alloc, container) ?? 0) > 0)
    .sort((a, b) => {
      const ua = own(own(cores, a)?.alloc, container) ?? 0;
      const ub = own(own(cores, b)?.alloc, container) ?? 0;
      return ua - ub || (rank.get(b) ?? 0) - (rank.get(a) ?? 0);
    });
  let remaining = shares;
  for (const id of held) {
    if (remaining <= 0) break;
    const u = own(cores, id);
    if (u === undefined) continue;
    const h = own(u.alloc, container) ?? 0;
    const n = Math.min(h, remaining);
    u.free += n;
    if (h - n === 0) delete u.alloc[container];
    else u.alloc[container] = h - n;
    remaining -= n;
  }
  return shares - remaining;
}

const rankCache = new WeakMap<readonly string[], Map<string, number>>();

/** Position of each core id in a distribution order (cached per order). */
function rankOf(order: readonly string[]): Map<string, number> {
  let rank = rankCache.get(order);
  if (rank === undefined) {
    rank = new Map(order.map((id, i) => [id, i]));
    rankCache.set(order, rank);
  }
  return rank;
}

/** Free every share the container holds; returns how many were freed. */
export function releaseAll(cores: CoreMap, container: string): number {
  let freed = 0;
  for (const u of Object.values(cores)) {
    const held = own(u.alloc, container) ?? 0;
    if (held > 0) {
      u.free += held;
      freed += held;
      delete u.alloc[container];
    }
  }
  return freed;
}

/** "0-2,5" from ["0","1","2","5"]: the kernel's cpuset list syntax. */
export function cpusetList(ids: readonly string[]): string {
  const nums = [...new Set(ids.map(Number))].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < nums.length) {
    const start = nums[i] as number;
    let end = start;
    while (i + 1 < nums.length && nums[i + 1] === end + 1) {
      end += 1;
      i += 1;
    }
    parts.push(start === end ? String(start) : `${start}-${end}`);
    i += 1;
  }
  return parts.join(',');
}

/** Sum of the free shares on the map. */
export function freeShares(cpu: HostCapacity['cpu']): number {
  let sum = 0;
  for (const u of Object.values(cpu.cores)) sum += u.free;
  return sum;
}
