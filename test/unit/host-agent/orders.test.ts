import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { ScaleOrder } from '../../../core/contracts/order.ts';
import { desiredLimits, differingResources, type OrderService } from '../../../host-agent/orders.ts';
import { aHostState, anOrderService, aScaleOrder, FakeStore, fakeClock } from '../../support/agent-fakes.ts';
import { type CgroupTree, makeCgroupTree } from '../../support/cgroup-tree.ts';

const HOST = 'h1';
let tree: CgroupTree;
let store: FakeStore;
let clock: ReturnType<typeof fakeClock>;
let svc: OrderService;

const anOrder = (version: number, limits: ScaleOrder['limits'], over: Partial<ScaleOrder> = {}) =>
  aScaleOrder(HOST, clock, version, limits, over);

beforeEach(() => {
  tree = makeCgroupTree('v1');
  tree.addContainer('c1');
  store = new FakeStore();
  clock = fakeClock();
  svc = anOrderService(HOST, tree.root, store, clock);
});
afterEach(() => tree.cleanup());

const quota = () => tree.read('c1', 'cpu', 'cpu.cfs_quota_us').trim();

describe('order handling', () => {
  it('applies a newer order, reports it and asks for the message to be deleted', async () => {
    expect(await svc.handleOrder(anOrder(1, { cpuShares: 50 }))).toEqual({ kind: 'delete', why: 'applied' });
    expect(quota()).toBe('50000'); // 50 × 100000 / 100
    expect(store.reports.get('c1')).toMatchObject({ appliedVersion: 1, outcome: 'applied', via: 'order' });
    expect(store.reports.get('c1')?.limits.cpuShares).toBe(50);
  });

  it('treats the same order twice as a no-op', async () => {
    await svc.handleOrder(anOrder(1, { cpuShares: 50 }));
    tree.write('c1', 'cpu', 'cpu.cfs_quota_us', '77000'); // would be overwritten if re-applied
    expect(await svc.handleOrder(anOrder(1, { cpuShares: 50 }))).toEqual({
      kind: 'delete',
      why: 'duplicate',
    });
    expect(quota()).toBe('77000');
    expect(store.history).toHaveLength(1);
  });

  it('lets the newest win when orders arrive out of order', async () => {
    await svc.handleOrder(anOrder(3, { cpuShares: 150 }));
    expect(await svc.handleOrder(anOrder(2, { cpuShares: 50 }))).toEqual({ kind: 'delete', why: 'stale' });
    expect(quota()).toBe('150000');
    expect(store.reports.get('c1')?.appliedVersion).toBe(3);
  });

  it('drops an expired order without writing', async () => {
    const o = anOrder(1, { cpuShares: 50 }, { expiresAt: clock.now() - 1, issuedAt: clock.now() - 1000 });
    expect(await svc.handleOrder(o)).toEqual({ kind: 'delete', why: 'expired' });
    expect(quota()).toBe('-1');
    expect(store.history).toEqual([]);
  });

  it('reports a container the platform has on this host but the host lacks, and asks for a retry', async () => {
    store.host = aHostState(HOST, { c1: { cpu: 50 }, ghost: { cpu: 50 } });
    const o = { ...anOrder(1, { cpuShares: 50 }), container: 'ghost', orderId: 'ghost.v1' };
    expect(await svc.handleOrder(o)).toEqual({ kind: 'retry', why: 'unknown-container' });
    expect(store.reports.get('ghost')).toMatchObject({ outcome: 'unknown-container', appliedVersion: 0 });
    expect(svc.applied.has('ghost')).toBe(false);
  });

  it('writes no APPLIED item for a container neither the platform nor the host knows (it would stay for ever)', async () => {
    store.host = aHostState(HOST, { c1: { cpu: 50 } });
    for (let i = 0; i < 20; i++) {
      const name = `ghost${i}`;
      const o = { ...anOrder(1, { cpuShares: 50 }), container: name, orderId: `${name}.v1` };
      expect(await svc.handleOrder(o)).toEqual({ kind: 'retry', why: 'unknown-container' });
    }
    store.host = null; // a host not (or no longer) registered knows no container either
    const o = { ...anOrder(1, { cpuShares: 50 }), container: 'ghost', orderId: 'ghost.v1' };
    expect(await svc.handleOrder(o)).toEqual({ kind: 'retry', why: 'unknown-container' });
    expect(store.history).toEqual([]);
    expect(store.hostReads.every((consistent) => consistent)).toBe(true); // a subscription just made is seen
  });

  it('refuses absurd values with a clear issue and writes no file', async () => {
    expect(await svc.handleOrder(anOrder(1, { cpuShares: 50_000, memMiB: 64 }))).toEqual({
      kind: 'delete',
      why: 'refused',
    });
    expect(quota()).toBe('-1');
    expect(tree.read('c1', 'memory', 'memory.limit_in_bytes').trim()).toBe('9223372036854771712');
    const r = store.reports.get('c1');
    expect(r?.outcome).toBe('refused');
    expect(r?.issues[0]?.message).toContain('order.limits.cpuShares');
  });

  it('ignores an order addressed to another host', async () => {
    expect(await svc.handleOrder(anOrder(1, { cpuShares: 50 }, { host: 'h2' }))).toEqual({
      kind: 'delete',
      why: 'wrong-host',
    });
    expect(quota()).toBe('-1');
  });

  it('retries a report that fails transiently, and reports once it lands', async () => {
    store.failReports = 3;
    expect(await svc.handleOrder(anOrder(1, { cpuShares: 50 }))).toEqual({ kind: 'delete', why: 'applied' });
    expect(store.reports.get('c1')?.appliedVersion).toBe(1);
  });

  it('gives up (keeping the message) when stopped while the state store is down', async () => {
    store.failReports = 1000;
    const ac = new AbortController();
    ac.abort();
    await expect(svc.handleOrder(anOrder(1, { cpuShares: 50 }), ac.signal)).rejects.toThrow('ECONNREFUSED');
    expect(svc.applied.get('c1')).toBeUndefined();
  });

  it('serialises work on one container', async () => {
    const seen: number[] = [];
    await Promise.all([
      svc.withLock('c1', async () => {
        await new Promise((r) => setTimeout(r, 20));
        seen.push(1);
      }),
      svc.withLock('c1', async () => {
        seen.push(2);
      }),
    ]);
    expect(seen).toEqual([1, 2]);
  });
});

describe('reconciliation of one container', () => {
  it('repairs drift at the same version and reports it', async () => {
    await svc.handleOrder(anOrder(2, { cpuShares: 50 }));
    tree.write('c1', 'cpu', 'cpu.cfs_quota_us', '120000');
    expect(await svc.reconcileContainer('c1', { cpuShares: 50 }, 2, { reportAll: false })).toBe('applied');
    expect(quota()).toBe('50000');
    expect(store.reports.get('c1')?.via).toBe('reconcile');
  });

  it('never goes behind a newer applied version', async () => {
    await svc.handleOrder(anOrder(5, { cpuShares: 150 }));
    expect(await svc.reconcileContainer('c1', { cpuShares: 50 }, 4, { reportAll: true })).toBe('behind');
    expect(quota()).toBe('150000');
  });

  it('applies a desired version ahead of the applied one (a lost message)', async () => {
    expect(await svc.reconcileContainer('c1', { cpuShares: 100 }, 7, { reportAll: false })).toBe('applied');
    expect(svc.applied.get('c1')).toBe(7);
  });

  it('writes nothing when in step, unless asked to report all', async () => {
    await svc.handleOrder(anOrder(2, { cpuShares: 50 }));
    expect(await svc.reconcileContainer('c1', { cpuShares: 50 }, 2, { reportAll: false })).toBe('in-step');
    expect(await svc.reconcileContainer('c1', { cpuShares: 50 }, 2, { reportAll: true })).toBe('reported');
  });
});

describe('desiredLimits', () => {
  it('turns a container’s current allocation into order limits', () => {
    const host = aHostState(HOST, { c1: { cpu: 150, mem: 512 } });
    const c = host.containers.c1;
    if (c === undefined) throw new Error('fixture');
    expect(desiredLimits(c, 'quota')).toEqual({ cpuShares: 150, cpuset: '', memMiB: 512 });
    expect(desiredLimits({ ...c, cores: ['1', '0'] }, 'pinned')).toEqual({
      cpuShares: 150,
      cpuset: '0-1',
      memMiB: 512,
    });
  });
});

describe('differingResources', () => {
  const none = {
    cpuShares: null,
    cpuset: null,
    memMiB: null,
    diskReadMiBps: null,
    diskWriteMiBps: null,
    netMbps: null,
  };
  it('takes a cgroup without cpuset restriction (v2, no controller) as every cpu, not as drift', () => {
    expect(differingResources({ cpuset: '' }, none, ['0', '1'])).toEqual([]);
    expect(differingResources({ cpuset: '1' }, none, ['0', '1'])).toEqual(['cpuset']);
  });
  it('compares a pinned set with the effective cpus read back', () => {
    expect(differingResources({ cpuset: '0,1' }, { ...none, cpuset: '0-1' }, ['0', '1'])).toEqual([]);
    expect(differingResources({ cpuset: '' }, { ...none, cpuset: '0' }, ['0', '1'])).toEqual(['cpuset']);
  });
});
