import { describe, expect, it } from '@jest/globals';
import {
  coresOf,
  cpusetList,
  distributionOrder,
  emptyCoreMap,
  placeShares,
  releaseShares,
  sharesOf,
} from '../../../../../core/policy/planner/cores.ts';
import { topology } from '../../../../support/planner-fixtures.ts';

// 2 sockets × 2 physical cores × 2 SMT threads; siblings numbered adjacently:
// s0c0 = {0,1}, s0c1 = {2,3}, s1c0 = {4,5}, s1c1 = {6,7}
const TOPO = topology(2, 2, 2);
const ORDER = distributionOrder(TOPO);

describe('distributionOrder', () => {
  it('lists physical cores across both sockets before any SMT sibling', () => {
    expect(ORDER).toEqual(['0', '2', '4', '6', '1', '3', '5', '7']);
  });

  it('orders siblings numbered Linux-style (second half of ids) the same way', () => {
    // s0c0 = {0,4}, s0c1 = {1,5}, s1c0 = {2,6}, s1c1 = {3,7}
    const linux = [0, 1, 2, 3].flatMap((i) => [
      { id: String(i), socket: i < 2 ? 0 : 1, core: i % 2 },
      { id: String(i + 4), socket: i < 2 ? 0 : 1, core: i % 2 },
    ]);
    expect(distributionOrder(linux)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
  });
});

describe('placeShares and releaseShares', () => {
  it('fills own cores, then wholly free ones, then partially free ones', () => {
    const cores = emptyCoreMap(TOPO);
    expect(placeShares(cores, ORDER, 'a', 250)).toBe(250); // 0:100, 2:100, 4:50
    expect(coresOf(cores, 'a')).toEqual(['0', '2', '4']);
    expect(placeShares(cores, ORDER, 'b', 120)).toBe(120); // wholly free 6:100, then 1:20
    expect(cores['6']?.alloc).toEqual({ b: 100 });
    expect(cores['1']?.alloc).toEqual({ b: 20 });
    expect(placeShares(cores, ORDER, 'a', 30)).toBe(30); // own core 4 has 50 free → 4:80
    expect(cores['4']).toEqual({ free: 20, alloc: { a: 80 } });
    // c: no own cores; wholly free 3, 5, 7 (300), then partially free 4 (20) and 1 (80)
    expect(placeShares(cores, ORDER, 'c', 400)).toBe(400);
    expect(cores['4']).toEqual({ free: 0, alloc: { a: 80, c: 20 } });
    expect(cores['1']).toEqual({ free: 0, alloc: { b: 20, c: 80 } });
    expect(placeShares(cores, ORDER, 'd', 10)).toBe(0); // 800 − 250 − 120 − 30 − 400 = 0 free
  });

  it('releases the least-used cores first, siblings before physical cores on ties', () => {
    const cores = emptyCoreMap(TOPO);
    placeShares(cores, ORDER, 'a', 280); // 0:100, 2:100, 4:80
    expect(releaseShares(cores, ORDER, 'a', 100)).toBe(100); // 4 (80) then 20 of 2
    expect(cores['4']).toEqual({ free: 100, alloc: {} });
    expect(cores['2']).toEqual({ free: 20, alloc: { a: 80 } });
    expect(sharesOf(cores, 'a')).toBe(180);
    expect(releaseShares(cores, ORDER, 'a', 500)).toBe(180);
    expect(coresOf(cores, 'a')).toEqual([]);
  });
});

describe('cpusetList', () => {
  it('writes ranges the way the kernel does', () => {
    expect(cpusetList(['5', '0', '1', '2', '7'])).toBe('0-2,5,7');
    expect(cpusetList([])).toBe('');
  });
});
