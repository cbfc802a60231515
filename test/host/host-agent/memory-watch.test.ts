/**
 * The memory fast path on a real cgroup (v1, as root): one memory stall gives
 * exactly one raise, also when the kernel clears `under_oom` late. The lag is
 * made real: the container is pinned to cpu 1 and, once its task stalls, a
 * SCHED_FIFO busy loop takes cpu 1 (for ≈ 0.6 s; the test process moves to cpu
 * 0), so the woken task cannot run to clear `under_oom` until the loop ends.
 * (A CFS quota does not hold it: since Linux 6.18 a throttled task finishes its
 * kernel work first.) State is the in-memory fake; the cgroup, the container
 * and the kernel are real.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { systemClock } from '../../../adapters/clock.ts';
import { silentLogger } from '../../../adapters/logger.ts';
import { resolveContainerCgroup } from '../../../host-agent/cgroup/layout.ts';
import { MemoryWatch, RAISE_SETTLE_MS } from '../../../host-agent/memory-watch.ts';
import { OrderService } from '../../../host-agent/orders.ts';
import { aHostState, FakeStore, fakeShaper } from '../../support/agent-fakes.ts';
import {
  createContainer,
  isRoot,
  sweepLeftovers,
  type TestContainer,
  userSpaceAlloc,
} from '../support/lxc.ts';

const CG = '/sys/fs/cgroup';
const MiB = 1_048_576;
let ct: TestContainer;

const cgPath = (controller: string, file: string) => `${CG}/${controller}/lxc.payload.${ct.name}/${file}`;
const readCg = (controller: string, file: string) => readFileSync(cgPath(controller, file), 'utf8').trim();
const underOom = () => /under_oom (\d)/.exec(readCg('memory', 'memory.oom_control'))?.[1] === '1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not in ${timeoutMs} ms`);
    await sleep(2);
  }
}

beforeAll(async () => {
  if (!isRoot()) throw new Error('the host suite needs root (real cgroups and LXC)');
  await sweepLeftovers();
  ct = await createContainer('mw');
}, 60_000);

afterAll(async () => {
  await ct?.destroy();
}, 30_000);

describe('MemoryWatch on a real cgroup', () => {
  it('raises exactly once for one stall, though under_oom stays 1 after the raise until the task runs', async () => {
    const cg = resolveContainerCgroup(CG, 'v1', ct.name);
    if (cg === null) throw new Error('no cgroup for the test container');
    const store = new FakeStore();
    // pinned to cpu 1 (the raise re-applies that), no cpu quota in the desired state
    store.host = aHostState('h1', { [ct.name]: { mem: 32, memMax: 256 } }, 1024);
    store.host.cpuPlacement = 'pinned';
    const desired = store.host.containers[ct.name];
    if (desired !== undefined) desired.cores = ['1'];
    writeFileSync(cgPath('cpuset', 'cpuset.cpus'), '1');
    const orders = new OrderService({
      host: 'h1',
      finder: { find: async () => ({ cg, veth: null, diskDevice: null, pid: null }) },
      shaper: fakeShaper(),
      store,
      clock: systemClock,
      log: silentLogger,
      facts: { cpus: ['0', '1'], memMiB: 4096 },
      cpuPeriodUs: 100_000,
      backoffMinMs: 1,
      backoffMaxMs: 10,
    });
    const watch = new MemoryWatch({
      host: 'h1',
      store,
      orders,
      clock: systemClock,
      log: silentLogger,
      raisePct: 25,
      raiseMinMiB: 64,
      containers: () => [{ name: ct.name, cg }],
    });
    writeFileSync(cgPath('memory', 'memory.limit_in_bytes'), String(32 * MiB));
    writeFileSync(cgPath('memory', 'memory.oom_control'), '1'); // stall instead of kill
    watch.poll(); // baseline: calm

    const alloc = ct.exec(userSpaceAlloc(40_000_000)); // peak ≈ 50 MiB;
    let hog: ChildProcess | null = null;
    try {
      await waitFor(underOom, 10_000, 'the allocation stalls under OOM');
      execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
      hog = spawn('chrt', ['-f', '10', 'taskset', '-c', '1', 'sh', '-c', 'while :; do :; done'], {
        stdio: 'ignore',
      });
      await sleep(30);

      watch.poll();
      expect(watch.raises).toHaveLength(1);
      expect(await watch.raises[0]).toMatchObject({ kind: 'raised', fromMiB: 32, toMiB: 96 }); // 32 + max(64, 25 % of 32)
      expect(Number(readCg('memory', 'memory.limit_in_bytes'))).toBe(96 * MiB);
      // the premise: the kernel still shows the stall after the raise (the woken task is throttled)
      expect(underOom()).toBe(true);

      for (let i = 0; i < 10; i++) {
        await sleep(50);
        watch.poll(); // 10 polls over ≈ 500 ms, inside the settle window, the stall still showing
      }
      expect(underOom()).toBe(true);
      expect(watch.raises).toHaveLength(1);
    } finally {
      hog?.kill('SIGKILL');
      execFileSync('taskset', ['-a', '-p', '-c', '0-1', String(process.pid)], { stdio: 'ignore' });
    }
    const done = await alloc;
    expect(done.code).toBe(0); // the stalled allocation completed at the raised limit
    expect(done.stdout.trim()).toBe('40000000');
    const end = Date.now() + RAISE_SETTLE_MS + 200;
    while (Date.now() < end) {
      await sleep(50);
      watch.poll(); // past the window too: nothing left to raise for
    }
    await Promise.all(watch.raises);
    expect(underOom()).toBe(false);
    expect(watch.raises).toHaveLength(1);
    expect(store.commits).toBe(1);
    expect(store.host?.containers[ct.name]?.resources.mem?.current).toBe(96);
    expect(store.host?.capacity.mem.free).toBe(1024 - 64);
  }, 60_000);
});
