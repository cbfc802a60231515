import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { silentLogger } from '../../../adapters/logger.ts';
import type { OrderService } from '../../../host-agent/orders.ts';
import { reconcileOnce } from '../../../host-agent/reconcile.ts';
import { aHostState, anOrderService, aScaleOrder, FakeStore, fakeClock } from '../../support/agent-fakes.ts';
import { type CgroupTree, makeCgroupTree } from '../../support/cgroup-tree.ts';

const HOST = 'h1';
let tree: CgroupTree;
let store: FakeStore;
let clock: ReturnType<typeof fakeClock>;
let svc: OrderService;

const quota = () => tree.read('c1', 'cpu', 'cpu.cfs_quota_us').trim();
const pass = () => reconcileOnce({ host: HOST, store, orders: svc, log: silentLogger }, { reportAll: false });

const anOrder = (version: number, cpuShares: number) => aScaleOrder(HOST, clock, version, { cpuShares });

beforeEach(() => {
  tree = makeCgroupTree('v1');
  tree.addContainer('c1');
  store = new FakeStore();
  clock = fakeClock();
  svc = anOrderService(HOST, tree.root, store, clock);
});
afterEach(() => tree.cleanup());

describe('reconciliation reading a lagging (eventually consistent) host item', () => {
  it('reads the host item eventually consistent', async () => {
    store.host = aHostState(HOST, { c1: { cpu: 50, version: 2 } });
    await pass();
    expect(store.hostReads).toEqual([false]);
  });

  it('keeps the newer limits an order applied when the read still shows an older version', async () => {
    // v3 committed (cpu 150) and its order applied; the replica read still has v2 (cpu 50).
    store.host = aHostState(HOST, { c1: { cpu: 150, version: 3 } });
    store.lagging = aHostState(HOST, { c1: { cpu: 50, version: 2 } });
    await svc.handleOrder(anOrder(3, 150));
    const reports = store.history.length;
    const s = await pass();
    expect(s).toMatchObject({ checked: 1, applied: [], reported: [] });
    expect(quota()).toBe('150000');
    expect(store.history.length).toBe(reports); // nothing written
  });

  it('writes nothing when the lagging read names the applied version (same limits)', async () => {
    store.host = aHostState(HOST, { c1: { cpu: 150, version: 3 } });
    await svc.handleOrder(anOrder(2, 50));
    store.lagging = aHostState(HOST, { c1: { cpu: 50, version: 2 } });
    const reports = store.history.length;
    expect(await pass()).toMatchObject({ applied: [], reported: [] });
    expect(quota()).toBe('50000');
    expect(store.history.length).toBe(reports);
  });

  it('converges on the newest version once the read catches up', async () => {
    // Orders v2 and v3 were both lost; the replica has v2, the table v3.
    store.host = aHostState(HOST, { c1: { cpu: 150, version: 3 } });
    store.lagging = aHostState(HOST, { c1: { cpu: 50, version: 2 } });
    expect(await pass()).toMatchObject({ applied: ['c1'] });
    expect(quota()).toBe('50000'); // v2: a state that was desired, and whose order precedes v3's
    store.lagging = null;
    expect(await pass()).toMatchObject({ applied: ['c1'] });
    expect(quota()).toBe('150000');
    expect(svc.applied.get('c1')).toBe(3);
    // the v3 order arriving afterwards is a no-op
    expect(await svc.handleOrder(anOrder(3, 150))).toEqual({ kind: 'delete', why: 'duplicate' });
  });
});
