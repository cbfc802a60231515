import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { silentLogger } from '../../../adapters/logger.ts';
import type { HostState } from '../../../core/contracts/host.ts';
import { resolveContainerCgroup } from '../../../host-agent/cgroup/layout.ts';
import { BYTES_PER_MIB } from '../../../host-agent/cgroup/plan.ts';
import {
  bumpMemory,
  growRoomMiB,
  isEmergency,
  MemoryWatch,
  type MemSignals,
  raisedMemMiB,
  readMemSignals,
  STALL_MAX_MS,
} from '../../../host-agent/memory-watch.ts';
import { readLease, writeLease } from '../../../host-agent/oom-guard.ts';
import { OrderService } from '../../../host-agent/orders.ts';
import { aHostState, FakeStore, fakeClock, fakeShaper } from '../../support/agent-fakes.ts';
import { captureLogger } from '../../support/capture-logger.ts';
import { type CgroupTree, makeCgroupTree } from '../../support/cgroup-tree.ts';

const calm: MemSignals = {
  oomKills: 0,
  ooms: 0,
  limitHits: 0,
  underOom: false,
  limitBytes: 512 * BYTES_PER_MIB,
  anonBytes: null,
};

describe('isEmergency', () => {
  it('fires on a new OOM kill, an OOM event or a task stalled under OOM', () => {
    expect(isEmergency(calm, { ...calm, oomKills: 1 })).toBe(true);
    expect(isEmergency(calm, { ...calm, ooms: 1 })).toBe(true);
    expect(isEmergency(calm, { ...calm, underOom: true })).toBe(true);
    expect(isEmergency(calm, calm)).toBe(false);
  });
  it('counts limit hits only when anonymous memory fills the limit (not page cache)', () => {
    expect(isEmergency(calm, { ...calm, limitHits: 5, anonBytes: 100 * BYTES_PER_MIB })).toBe(false);
    // 0.9 × 512 MiB = 460.8 MiB
    expect(isEmergency(calm, { ...calm, limitHits: 5, anonBytes: 470 * BYTES_PER_MIB })).toBe(true);
  });
  it('while settling after a raise, fires only on a fresh stall (not a held one, not counters)', () => {
    const stalled = { ...calm, underOom: true };
    expect(isEmergency(stalled, stalled, true)).toBe(false);
    expect(isEmergency(calm, { ...calm, oomKills: 1, ooms: 3 }, true)).toBe(false);
    expect(isEmergency(calm, stalled, true)).toBe(true);
  });
  it('never fires without a limit', () => {
    expect(isEmergency(calm, { ...calm, oomKills: 3, limitBytes: null })).toBe(false);
  });
});

describe('raisedMemMiB', () => {
  it('raises by the percentage, at least the minimum step', () => {
    expect(raisedMemMiB(1000, 4000, 4000, 25, 64)).toBe(1250); // 1000 + 25 % of 1000
    expect(raisedMemMiB(100, 4000, 4000, 25, 64)).toBe(164); // 25 % = 25 < 64
  });
  it('stays within the container max and the host’s free memory', () => {
    expect(raisedMemMiB(1000, 1100, 4000, 25, 64)).toBe(1100);
    expect(raisedMemMiB(1000, 4000, 30, 25, 64)).toBe(1030);
    expect(raisedMemMiB(1000, 1000, 4000, 25, 64)).toBeNull();
    expect(raisedMemMiB(1000, 4000, 0, 25, 64)).toBeNull();
  });
});

describe('growRoomMiB', () => {
  const room = { currentMiB: 512, maxMiB: 1024, hostFreeMiB: 2048 };
  it('is the next raise from the kernel limit while the fast path has room', () => {
    expect(growRoomMiB(512, room, 25, 64)).toBe(128); // 512 + 25 % = 640
    expect(growRoomMiB(1000, room, 25, 64)).toBe(24); // capped by max 1024
  });
  it('is 0 when the fast path would find no room: desired at max, host full, or nothing known', () => {
    expect(growRoomMiB(256, { ...room, currentMiB: 1024 }, 25, 64)).toBe(0); // the kernel lags the desired max
    expect(growRoomMiB(512, { ...room, hostFreeMiB: 0 }, 25, 64)).toBe(0);
    expect(growRoomMiB(512, undefined, 25, 64)).toBe(0);
  });
});

describe('bumpMemory', () => {
  it('raises the container, bumps its desiredVersion and the host version, and takes the memory from free', () => {
    const host = aHostState('h1', { c1: { mem: 512, version: 4 } }, 1000);
    const next = bumpMemory(host, 'c1', 640, 99);
    expect(next.containers.c1?.resources.mem?.current).toBe(640);
    expect(next.containers.c1?.desiredVersion).toBe(5);
    expect(next.capacity.mem.free).toBe(872); // 1000 − (640 − 512)
    expect(next.version).toBe(host.version + 1);
    expect(host.containers.c1?.resources.mem?.current).toBe(512); // input untouched
  });

  it('bumps the desired version past an applied version the state is behind', () => {
    const host = aHostState('h1', { c1: { mem: 512, version: 4 } }, 1000);
    expect(bumpMemory(host, 'c1', 640, 99, 9).containers.c1?.desiredVersion).toBe(10);
  });
});

describe('MemoryWatch', () => {
  let tree: CgroupTree;
  let store: FakeStore;
  let watch: MemoryWatch;
  let clock: ReturnType<typeof fakeClock>;
  beforeEach(() => {
    tree = makeCgroupTree('v1');
    tree.addContainer('c1');
    tree.write('c1', 'memory', 'memory.limit_in_bytes', `${512 * BYTES_PER_MIB}\n`);
    store = new FakeStore();
    store.host = aHostState('h1', { c1: { mem: 512, memMax: 1024, version: 3 } }, 2048);
    clock = fakeClock();
    const cg = resolveContainerCgroup(tree.root, 'v1', 'c1');
    if (cg === null) throw new Error('fixture');
    const orders = new OrderService({
      host: 'h1',
      finder: { find: async () => ({ cg, veth: null, diskDevice: null, pid: null }) },
      shaper: fakeShaper(),
      store,
      clock,
      log: silentLogger,
      facts: { cpus: ['0', '1'], memMiB: 4096 },
      cpuPeriodUs: 100_000,
      backoffMinMs: 1,
      backoffMaxMs: 10,
    });
    watch = new MemoryWatch({
      host: 'h1',
      store,
      orders,
      clock,
      log: silentLogger,
      raisePct: 25,
      raiseMinMiB: 64,
      settleMs: 1000,
      containers: () => [{ name: 'c1', cg }],
    });
  });
  afterEach(() => tree.cleanup());

  it('reads v1 signals', () => {
    const cg = resolveContainerCgroup(tree.root, 'v1', 'c1');
    if (cg === null) throw new Error('fixture');
    tree.write('c1', 'memory', 'memory.oom_control', 'oom_kill_disable 1\nunder_oom 1\noom_kill 2\n');
    expect(readMemSignals(cg)).toMatchObject({
      oomKills: 2,
      underOom: true,
      limitBytes: 512 * BYTES_PER_MIB,
    });
  });

  it('reads v2 signals from memory.events', () => {
    const t2 = makeCgroupTree('v2');
    try {
      t2.addContainer('c2');
      t2.write('c2', 'unified', 'memory.max', `${256 * BYTES_PER_MIB}\n`);
      t2.write('c2', 'unified', 'memory.events', 'low 0\nhigh 4\nmax 9\noom 2\noom_kill 1\n');
      const cg = resolveContainerCgroup(t2.root, 'v2', 'c2');
      if (cg === null) throw new Error('fixture');
      expect(readMemSignals(cg)).toMatchObject({
        oomKills: 1,
        ooms: 2,
        limitHits: 9 + 4, // max and high events both wake the fast path
        limitBytes: 256 * BYTES_PER_MIB, // memory.high unset: memory.max is the limit
      });
      t2.write('c2', 'unified', 'memory.high', `${200 * BYTES_PER_MIB}\n`);
      expect(readMemSignals(cg)?.limitBytes).toBe(200 * BYTES_PER_MIB); // high set: the throttle point
    } finally {
      t2.cleanup();
    }
  });

  it('raises memory on an OOM kill: accounted on the host item, applied, reported', async () => {
    watch.poll(); // baseline
    tree.write('c1', 'memory', 'memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n');
    watch.poll();
    expect(await watch.raises[0]).toEqual({ kind: 'raised', fromMiB: 512, toMiB: 640, version: 4 });
    expect(tree.read('c1', 'memory', 'memory.limit_in_bytes').trim()).toBe(String(640 * BYTES_PER_MIB));
    expect(store.host?.capacity.mem.free).toBe(2048 - 128);
    expect(store.reports.get('c1')).toMatchObject({ via: 'oom-fastpath', appliedVersion: 4 });
    // the fast path commits on the version it read: it reads strongly consistent, never a lagging copy
    expect(store.hostReads.length).toBeGreaterThan(0);
    expect(store.hostReads.every((consistent) => consistent)).toBe(true);
  });

  const STALLED = 'oom_kill_disable 1\nunder_oom 1\noom_kill 0\n';
  const CLEAR = 'oom_kill_disable 1\nunder_oom 0\noom_kill 0\n';
  /** Poll, then let any raise it started finish. */
  const pollAndSettle = async () => {
    watch.poll();
    await Promise.all(watch.raises);
  };

  it('raises once for one stall the kernel clears late (under_oom still 1 after the raise)', async () => {
    await pollAndSettle(); // baseline
    tree.write('c1', 'memory', 'memory.oom_control', STALLED);
    await pollAndSettle();
    expect(watch.raises).toHaveLength(1);
    for (let i = 0; i < 10; i++) {
      clock.t += 50; // 10 polls 50 ms apart, all inside the 1000 ms window, the stall still showing
      await pollAndSettle();
    }
    tree.write('c1', 'memory', 'memory.oom_control', CLEAR);
    clock.t += 2000;
    await pollAndSettle();
    expect(watch.raises).toHaveLength(1);
    expect(store.host?.containers.c1?.resources.mem?.current).toBe(640); // 512 + max(64, 25 % of 512)
  });

  it('raises again for a stall still held when the window ends (the raise was not enough)', async () => {
    await pollAndSettle();
    tree.write('c1', 'memory', 'memory.oom_control', STALLED);
    await pollAndSettle();
    clock.t += 999;
    await pollAndSettle();
    expect(watch.raises).toHaveLength(1);
    clock.t += 1;
    await pollAndSettle();
    expect(watch.raises).toHaveLength(2);
    expect(await watch.raises[1]).toMatchObject({ fromMiB: 640, toMiB: 800 }); // 640 + 25 % of 640
  });

  it('raises again inside the window for a fresh stall (cleared, then stalled at the raised limit)', async () => {
    await pollAndSettle();
    tree.write('c1', 'memory', 'memory.oom_control', STALLED);
    await pollAndSettle();
    tree.write('c1', 'memory', 'memory.oom_control', CLEAR);
    clock.t += 50;
    await pollAndSettle();
    tree.write('c1', 'memory', 'memory.oom_control', STALLED);
    clock.t += 50;
    await pollAndSettle();
    expect(watch.raises).toHaveLength(2);
  });

  it('takes OOM kills counted while settling as the same episode (re-baselined, no second raise)', async () => {
    await pollAndSettle();
    tree.write('c1', 'memory', 'memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n');
    await pollAndSettle();
    tree.write('c1', 'memory', 'memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
    clock.t += 100;
    await pollAndSettle();
    clock.t += 2000;
    await pollAndSettle();
    expect(watch.raises).toHaveLength(1);
    tree.write('c1', 'memory', 'memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n');
    await pollAndSettle(); // a kill after the window is a new emergency
    expect(watch.raises).toHaveLength(2);
  });

  it('re-reads and retries when the host item changed under it', async () => {
    store.raceCommits = 2;
    const r = await watch.raise('c1');
    expect(r).toMatchObject({ kind: 'raised', toMiB: 640 });
    expect(store.commits).toBe(1);
  });

  it('reports no room at the container’s max', async () => {
    if (store.host?.containers.c1?.resources.mem) store.host.containers.c1.resources.mem.current = 1024;
    expect((await watch.raise('c1')).kind).toBe('no-room');
    expect(store.commits).toBe(0);
  });

  describe('the OOM guard', () => {
    let leaseDir: string;
    let guarded: MemoryWatch;
    let logLines: () => { msg?: unknown }[];
    const oomDisabled = () =>
      /oom_kill_disable (\d)/.exec(tree.read('c1', 'memory', 'memory.oom_control'))?.[1] ??
      tree.read('c1', 'memory', 'memory.oom_control').trim();
    beforeEach(() => {
      leaseDir = mkdtempSync(join(tmpdir(), 'sc-lease-'));
      const cg = resolveContainerCgroup(tree.root, 'v1', 'c1');
      if (cg === null) throw new Error('fixture');
      const orders = new OrderService({
        host: 'h1',
        finder: { find: async () => ({ cg, veth: null, diskDevice: null, pid: null }) },
        shaper: fakeShaper(),
        store,
        clock,
        log: silentLogger,
        facts: { cpus: ['0', '1'], memMiB: 4096 },
        cpuPeriodUs: 100_000,
        backoffMinMs: 1,
        backoffMaxMs: 10,
        memGrowMiB: (name, memMiB) => guarded.growMiB(name, memMiB),
      });
      const captured = captureLogger();
      logLines = captured.lines;
      guarded = new MemoryWatch({
        host: 'h1',
        store,
        orders,
        clock,
        log: captured.logger,
        raisePct: 25,
        raiseMinMiB: 64,
        settleMs: 1000,
        containers: () => [{ name: 'c1', cg }],
        lease: { path: join(leaseDir, 'oom-lease'), ms: 3000 },
      });
    });
    afterEach(() => {
      guarded.stop();
      rmSync(leaseDir, { recursive: true, force: true });
    });

    it('keeps the OOM killer off while memory may grow, and on when it is at max', async () => {
      guarded.start(3_600_000); // the lease is written at start; polls are called by hand
      guarded.learn(store.host as HostState);
      expect(guarded.growMiB('c1', 512)).toBe(128); // 512 + max(64, 25 % of 512) = 640 ≤ max 1024
      await guarded.guardPass();
      expect(oomDisabled()).toBe('1');
      const atMax = aHostState('h1', { c1: { mem: 1024, memMax: 1024, version: 3 } }, 2048);
      tree.write('c1', 'memory', 'memory.limit_in_bytes', `${1024 * BYTES_PER_MIB}\n`);
      guarded.learn(atMax);
      await guarded.guardPass();
      expect(oomDisabled()).toBe('0');
    });

    it('does not turn the killer off without a lease (not started, or the lease cannot be written)', async () => {
      guarded.learn(store.host as HostState);
      expect(guarded.growMiB('c1', 512)).toBe(0);
      await guarded.guardPass();
      expect(oomDisabled()).toBe('0');
    });

    it('raises a stalled container and keeps the guard for the room left, then re-arms when no room is left', async () => {
      guarded.start(3_600_000);
      guarded.learn(store.host as HostState);
      await guarded.guardPass();
      guarded.poll(); // baseline
      tree.write('c1', 'memory', 'memory.oom_control', 'oom_kill_disable 1\nunder_oom 1\noom_kill 0\n');
      guarded.poll();
      expect(await guarded.raises[0]).toMatchObject({ kind: 'raised', fromMiB: 512, toMiB: 640 });
      expect(oomDisabled()).toBe('1'); // 640 → 800 still fits under max 1024
      // the host fills up: the next stall finds no room and hands the container to the kernel
      if (store.host !== null) store.host.capacity.mem.free = 0;
      clock.t += 2000;
      tree.write('c1', 'memory', 'memory.oom_control', 'oom_kill_disable 1\nunder_oom 0\noom_kill 0\n');
      guarded.poll();
      tree.write('c1', 'memory', 'memory.oom_control', 'oom_kill_disable 1\nunder_oom 1\noom_kill 0\n');
      guarded.poll();
      expect(await guarded.raises[1]).toMatchObject({ kind: 'no-room' });
      expect(oomDisabled()).toBe('0');
    });

    it('re-arms a stall that outlasts STALL_MAX_MS without a raise', () => {
      guarded.start(3_600_000);
      guarded.learn(store.host as HostState);
      tree.write('c1', 'memory', 'memory.oom_control', 'oom_kill_disable 1\nunder_oom 1\noom_kill 0\n');
      guarded.poll(); // first sight of the stall (and the baseline)
      clock.t += STALL_MAX_MS + 1;
      guarded.poll();
      expect(oomDisabled()).toBe('0');
      expect(logLines().some((l) => l.msg === 'memory stall not resolved: OOM killer re-armed')).toBe(true);
    });

    it('keeps the guard through a step several raises deep (under_oom held throughout, each raise landing)', async () => {
      const mem = store.host?.containers.c1?.resources.mem;
      if (mem !== undefined) mem.max = 4096; // room for every raise of this step
      guarded.start(3_600_000);
      guarded.learn(store.host as HostState);
      await guarded.guardPass();
      guarded.poll(); // baseline
      // the kernel shows the stall throughout (the task has not run since): a held stall past each
      // settle window raises again; 4 × 1.5 s = 6 s of under_oom 1, longer than STALL_MAX_MS
      tree.write('c1', 'memory', 'memory.oom_control', 'oom_kill_disable 1\nunder_oom 1\noom_kill 0\n');
      for (let i = 0; i < 4; i++) {
        guarded.poll();
        await Promise.all(guarded.raises);
        clock.t += 1500;
      }
      expect(6000).toBeGreaterThan(STALL_MAX_MS);
      guarded.poll();
      await Promise.all(guarded.raises);
      expect((await Promise.all(guarded.raises)).every((r) => r?.kind === 'raised')).toBe(true);
      expect(guarded.raises.length).toBeGreaterThanOrEqual(4);
      expect(oomDisabled()).toBe('1');
      // never re-armed on the way: the step progressed with every raise
      expect(logLines().filter((l) => l.msg === 'memory stall not resolved: OOM killer re-armed')).toEqual(
        [],
      );
    });

    it('never touches a container its host state does not manage (another tool may stall it on purpose)', async () => {
      guarded.start(3_600_000);
      guarded.learn(aHostState('h1', {}, 2048)); // c1 is on the host, not in its state
      tree.write('c1', 'memory', 'memory.oom_control', 'oom_kill_disable 1\nunder_oom 1\noom_kill 0\n');
      await guarded.guardPass();
      guarded.poll();
      clock.t += STALL_MAX_MS + 1;
      guarded.poll();
      guarded.stop();
      expect(oomDisabled()).toBe('1'); // left as its owner set it
    });

    it('at start, re-arms the containers a previous agent left disarmed (its lease names them)', () => {
      writeLease(join(leaseDir, 'oom-lease'), { until: 1, pid: 999_999, containers: ['c1'] });
      tree.write('c1', 'memory', 'memory.oom_control', 'oom_kill_disable 1\nunder_oom 1\noom_kill 0\n');
      expect(guarded.resolveLeftovers()).toEqual(['c1']);
      expect(oomDisabled()).toBe('0');
    });

    it('re-arms every container and gives the lease up when it stops', async () => {
      guarded.start(3_600_000);
      guarded.learn(store.host as HostState);
      await guarded.guardPass();
      expect(oomDisabled()).toBe('1');
      expect(readLease(join(leaseDir, 'oom-lease'))?.containers).toEqual(['c1']); // what a watchdog would re-arm
      guarded.stop();
      expect(oomDisabled()).toBe('0');
      expect(readLease(join(leaseDir, 'oom-lease'))).toBeNull();
    });
  });
});
