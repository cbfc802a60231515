/**
 * Versions bounded and the newest desired state first (issue 19, items 6 and 10):
 * an order far above what the agent knows is dead-lettered, never applied (it would
 * make every later order stale); an order below the desired version read by a
 * reconcile is dropped without touching the cgroup.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { MAX_DESIRED_VERSION, ScaleOrder } from '../../../core/contracts/order.ts';
import { AgentReport } from '../../../core/contracts/report.ts';
import { MAX_VERSION_JUMP, type OrderService } from '../../../host-agent/orders.ts';
import { anOrderService, aScaleOrder, FakeStore, fakeClock } from '../../support/agent-fakes.ts';
import { type CgroupTree, makeCgroupTree } from '../../support/cgroup-tree.ts';

let tree: CgroupTree;
let store: FakeStore;
let clock: ReturnType<typeof fakeClock>;
let svc: OrderService;

beforeEach(() => {
  tree = makeCgroupTree('v1');
  tree.addContainer('c1');
  store = new FakeStore();
  clock = fakeClock();
  svc = anOrderService('h1', tree.root, store, clock);
});
afterEach(() => tree.cleanup());

const quota = () => tree.read('c1', 'cpu', 'cpu.cfs_quota_us').trim();

describe('order versions', () => {
  it('dead-letters an order far above the known state instead of applying it', async () => {
    await svc.handleOrder(aScaleOrder('h1', clock, 3, { cpuShares: 50 }));
    const before = quota();
    const far = aScaleOrder('h1', clock, 3 + MAX_VERSION_JUMP + 1, { cpuShares: 150 });
    const d = await svc.handleOrder(far);
    expect(d).toMatchObject({ kind: 'dead-letter' });
    expect(quota()).toBe(before);
    // The next real order still applies.
    expect(await svc.handleOrder(aScaleOrder('h1', clock, 4, { cpuShares: 100 }))).toEqual({
      kind: 'delete',
      why: 'applied',
    });
    expect(quota()).toBe('100000');
  });

  it('drops a queued order below the desired version a reconcile read, without writing the cgroup', async () => {
    expect(await svc.reconcileContainer('c1', { cpuShares: 100 }, 7, { reportAll: false })).toBe('applied');
    // The applied report at 7 failed to land (or was not read back): the agent still knows desired v7.
    svc.applied.delete('c1');
    expect(await svc.handleOrder(aScaleOrder('h1', clock, 5, { cpuShares: 30 }))).toEqual({
      kind: 'delete',
      why: 'stale',
    });
    expect(quota()).toBe('100000');
  });

  it('bounds desiredVersion in orders and reports far below 2^53', () => {
    const o = aScaleOrder('h1', clock, 1, { cpuShares: 50 });
    expect(ScaleOrder.safeParse({ ...o, desiredVersion: 2 ** 53 - 1 }).success).toBe(false);
    expect(ScaleOrder.safeParse({ ...o, desiredVersion: MAX_DESIRED_VERSION }).success).toBe(true);
    expect(AgentReport.shape.appliedVersion.safeParse(2 ** 53 - 1).success).toBe(false);
  });
});
