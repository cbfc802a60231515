/**
 * The host agent on a real cgroup v2 kernel: user-mode-linux booted once for this suite
 * (test/host/support/uml.ts), two LXC busybox containers started in it, the whole agent and
 * its emulators running inside (test/host/support/uml-guest.ts). Every expectation here is
 * on a value the guest read from the kernel.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TEST_PREFIX } from '../support/lxc.ts';
import {
  assertUmlInstalled,
  bootUml,
  GUEST_DATA_DIR,
  makeDisk,
  prepareLxc,
  REPO,
  type UmlRun,
  umlWorkDir,
} from '../support/uml.ts';
import type { GuestPlan } from '../support/uml-guest.ts';

const MiB = 1_048_576;
// biome-ignore lint/suspicious/noExplicitAny: the guest's JSON, asserted field by field below
type Results = Record<string, any>;

let run: UmlRun<Results>;
let r: Results;
const wd = umlWorkDir();
const ORD = `${TEST_PREFIX}-ord`;
const FAST = `${TEST_PREFIX}-fast`;

beforeAll(async () => {
  assertUmlInstalled();
  const lxcPath = join(wd.dir, 'lxc');
  await Promise.all([
    makeDisk(join(wd.dir, 'disk.img'), 64),
    prepareLxc(lxcPath, ORD),
    prepareLxc(lxcPath, FAST),
  ]);
  const plan: GuestPlan = {
    lxcPath,
    dataDir: GUEST_DATA_DIR,
    disk: '/dev/ubda',
    host: `${TEST_PREFIX}-umlhost`,
    containers: { orders: ORD, fast: FAST },
  };
  writeFileSync(join(wd.dir, 'guest.json'), JSON.stringify(plan));
  run = await bootUml<Results>({
    work: wd.dir,
    program: join(REPO, 'test/host/support/uml-guest.ts'),
    disk: join(wd.dir, 'disk.img'),
    timeoutS: 400,
  });
  r = run.results;
  process.stdout.write(`UML suite: ${run.seconds.toFixed(1)} s wall (guest ${r.totalSeconds} s)\n`);
}, 460_000);

afterAll(() => wd.cleanup());

const ok = (step: string) => {
  if (r[step]?.ok !== true) throw new Error(`guest step ${step} failed: ${r[step]?.error ?? 'not run'}`);
  return r[step];
};

/**
 * The limit as the agent writes it on v2 (plan.ts oomGuardWrites): memory.high is the limit the
 * kernel throttles and reclaims at; memory.max is the same, or — while the OOM guard lets the
 * container grow — at most one fast-path raise above it (max(64 MiB, 25 %)).
 */
function expectLimit(kernel: { max: string; high: string }, mib: number): void {
  expect(kernel.high).toBe(`${mib * MiB}`);
  expect(Number(kernel.max)).toBeGreaterThanOrEqual(mib * MiB);
  expect(Number(kernel.max)).toBeLessThanOrEqual((mib + Math.max(64, Math.ceil(mib / 4))) * MiB);
}

describe('a cgroup v2 kernel (user-mode-linux)', () => {
  it('boots with the cpu, io, memory and pids controllers for children, and no cpuset', () => {
    const k = ok('kernel');
    expect(k.subtreeControl.split(' ').sort()).toEqual(['cpu', 'io', 'memory', 'pids']);
    expect(k.partitions).toMatch(/\b98\s+0\s+65536 ubda\b/); // the 64 MiB file-backed disk
    expect(ok('kernelFormats').cpusetFilesExist).toEqual([false, false]);
  });

  it('starts LXC containers with their cgroup at lxc.payload.<name>', () => {
    const c = ok('containers');
    for (const name of [ORD, FAST]) {
      expect(c[name].cgroupDir).toBe(true);
      expect(c[name].files.split(' ').sort()).toEqual(['cpu', 'io', 'memory', 'pids']);
      expect(c[name].dataDevice).toBe('98:0');
    }
  });
});

describe('the host agent on cgroup v2', () => {
  it('discovers the containers, their cgroup directories and the disk behind their data', () => {
    const d = ok('discovery');
    expect(d.found[ORD].dirs).toEqual({ unified: `/sys/fs/cgroup/lxc.payload.${ORD}` });
    expect(d.found[FAST].dirs).toEqual({ unified: `/sys/fs/cgroup/lxc.payload.${FAST}` });
    expect(d.found[ORD].diskDevice).toBe('98:0');
    expect(d.found[ORD].pid).toBeGreaterThan(1);
    expect([...d.heartbeatContainers].sort()).toEqual([FAST, ORD].sort());
    expect(d.heartbeatCgroupVersion).toBe('v2');
  });

  it('reports the host it runs on with its heartbeat: one cpu, its memory, the ubd disk', () => {
    const t = ok('discovery').heartbeatTopology;
    expect(t.cpus).toEqual([{ id: '0', socket: 0, core: 0 }]); // UML is uniprocessor
    expect(t.smtSiblings).toEqual([['0']]);
    expect(t.memMiB).toBe(Math.floor(ok('kernel').memTotalKiB / 1024));
    expect(t.disks).toContainEqual({ name: 'ubda', device: '98:0', sizeMiB: 64 });
  });

  it('brings both containers to their desired state at start and reports it', () => {
    const a = ok('agentStart');
    expect(a.cgroupVersion).toBe('v2');
    expect(a.kernel.cpuMax).toBe('100000 100000'); // 100 shares = one core per 100 ms period
    expectLimit(a.kernel, 256);
    expect(a.reports[ORD].limits).toMatchObject({ cpuShares: 100, memMiB: 256 });
    expect(a.reports[ORD].outcome).toBe('applied');
    expect(a.reports[FAST].limits).toMatchObject({ cpuShares: 100, memMiB: 64 });
  });

  it('holds a burner at cpu.max: never above the quota, throttled when it binds', () => {
    const c = ok('cpu');
    for (const shares of [25, 50, 75]) {
      const m = c[`at${shares}`];
      expect(m.cpuMax).toBe(`${shares * 1000} 100000`);
      expect(m.limits.cpuShares).toBe(shares);
      // The quota is a ceiling; but UML charges the time its host process is descheduled to the task
      // running in the guest, so on a host with a load average of 30 a 0.25 quota read 0.324 core once.
      expect(m.cores).toBeLessThanOrEqual((shares / 100) * 1.35);
    }
    expect(c.at50.cores).toBeLessThanOrEqual(0.5 * 1.1);
    // a floor only where the burner needs a quarter or half of the guest's one cpu: at 0.75 the
    // agent, the emulators and a loaded host take their share first (a ceiling, not a guarantee)
    for (const shares of [25, 50])
      expect(c[`at${shares}`].cores).toBeGreaterThanOrEqual((shares / 100) * 0.75);
    // where a quarter of the one cpu is free for the burner, the quota is what stops it
    expect(c.at25.throttled).toBeGreaterThan(c.at25.periods / 2);
    // one core on a uniprocessor: the quota never binds
    expect(c.at100.cpuMax).toBe('100000 100000');
    expect(c.at100.throttled).toBeLessThanOrEqual(c.at100.periods / 10);
  });

  it('moves memory.high (the limit) and memory.max up and down, and refuses below what is in use without an OOM kill', () => {
    const m = ok('memory');
    expectLimit(m.up.kernel, 300);
    expect(m.belowUse.outcome).toBe('refused');
    expect(m.belowUse.issues).toEqual([expect.objectContaining({ resource: 'mem', code: 'BELOW_USAGE' })]);
    expectLimit(m.belowUse.kernel, 300); // the old limit stays
    expect(m.belowUse.kernel.events.oom_kill).toBe(0);
    expect(m.holderAliveAfterBelowUse).toBe(true);
    expect(m.down.outcome).toBe('applied');
    expectLimit(m.down.kernel, 100); // down, still above the ≈ 60 MiB in use
    expectLimit(m.upAgain.kernel, 260);
    expect(m.upAgain.kernel.events.oom_kill).toBe(0);
    expect(m.holderAliveAtEnd).toBe(true);
  });

  it('throttles disk I/O on the ubd device with one io.max line', () => {
    const io = ok('io');
    expect(io.ioMax).toBe(`98:0 rbps=${20 * MiB} wbps=${4 * MiB} riops=max wiops=max`);
    expect(io.limits).toMatchObject({ diskReadMiBps: 20, diskWriteMiBps: 4 });
    expect(io.writeMiBps).toBeLessThan(4 * 1.1); // a ceiling …
    expect(io.writeMiBps).toBeGreaterThan(4 * 0.5); // … that a loaded host may keep it under (3.0–4.0 measured)
    expect(io.readMiBps).toBeLessThan(20 * 1.2); // 18.1–22.1 measured over a short read (bursts)
    expect(io.pidsMax).toBe('max'); // the agent does not scale pids
  });

  it('raises memory on the fast path when memory.events shows the limit hit', () => {
    const f = ok('fastPath');
    expect(f.error).toBeUndefined();
    expect(f.raises[0]).toMatchObject({ kind: 'raised', fromMiB: 64, toMiB: 128 }); // 64 + max(64, 25 % of 64)
    expectLimit(f.after, 128);
    expect(f.after.events.max + f.after.events.high).toBeGreaterThan(0);
    expect(f.after.current).toBeGreaterThanOrEqual(81 * MiB); // the 90 MiB allocation went through
    expect(f.report.via).toBe('oom-fastpath');
  });

  it('reconciles after a restart: the newer desired state and a hand edit', () => {
    const rc = ok('reconcileAfterRestart');
    expect(rc.drifted.fastCpuMax).toBe('max 100000');
    expect(rc.kernel.ordCpuMax).toBe('30000 100000');
    expectLimit(rc.kernel.ordMem, 280);
    expect(rc.kernel.fastCpuMax).toBe('100000 100000');
    expect(rc.report.via).toBe('reconcile');
  });
});

describe('the kernel memory primitives both memory designs rely on', () => {
  it('memory.high under a higher memory.max throttles a growing allocation without an OOM kill', () => {
    const p = ok('memoryPrimitives').high;
    expect(p.held.events.high).toBeGreaterThan(0);
    expect(p.held.events.oom_kill).toBe(0);
    expect(p.aliveWhileHeld).toBe(true);
    expect(p.grewMs).not.toBeNull(); // raising memory.high let it finish
    expect(p.after.events.oom_kill).toBe(0);
  });

  it('memory.max written below the anonymous memory in use is accepted and OOM-kills (no EBUSY on v2)', () => {
    const p = ok('memoryPrimitives').maxBelowUse;
    expect(p.answer).toBe('ok');
    expect(p.memoryMax).toBe(`${20 * MiB}`);
    expect(p.events.oom_kill).toBeGreaterThanOrEqual(1);
    expect(p.current).toBeLessThanOrEqual(20 * MiB);
  });

  it('memory.high written below use is accepted, reclaims what it can and kills nothing', () => {
    const p = ok('memoryPrimitives').highBelowUse;
    expect(p.answer).toBe('ok');
    expect(p.events.oom_kill).toBe(0);
    expect(p.holderAlive).toBe(true);
    expect(p.current).toBeGreaterThan(20 * MiB);
  });
});

describe('what the kernel refuses or rewrites (the fake tree follows these)', () => {
  const write = (file: string, value: string) =>
    ok('kernelFormats').writes.find(
      (w: { file: string; value: string }) => w.file === file && w.value === value,
    );
  it('cpu.max: quota under 1000 µs and negative quotas are EINVAL; "max" keeps the period', () => {
    expect(write('cpu.max', '500 100000').answer).toBe('EINVAL');
    expect(write('cpu.max', '-1 100000').answer).toBe('EINVAL');
    expect(write('cpu.max', 'max').readBack).toBe('max 100000');
    expect(write('cpu.max', '50000').readBack).toBe('50000 100000');
  });
  it('io.max: a line lists every key, 0 is ERANGE, all-max removes the line, an unknown device is ENODEV', () => {
    expect(write('io.max', '98:0 rbps=1048576').readBack).toBe(
      '98:0 rbps=1048576 wbps=max riops=max wiops=max',
    );
    expect(write('io.max', '98:0 rbps=0').answer).toBe('ERANGE');
    expect(write('io.max', '98:0 rbps=max wbps=max').readBack).toBe('');
    expect(write('io.max', '98:1 rbps=1048576').answer).toBe('ENODEV');
  });
  it('memory.max/high: page-rounded down, "-1" is EINVAL, suffixes accepted', () => {
    expect(write('memory.max', '100000001').readBack).toBe('99999744');
    expect(write('memory.max', '-1').answer).toBe('EINVAL');
    expect(write('memory.max', '64M').readBack).toBe(`${64 * MiB}`);
    expect(ok('kernelFormats').initial['memory.events']).toBe(
      'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0',
    );
  });
});

describe('npm start on a v2-only host (local/containers.ts)', () => {
  it('picks LXC on v2, makes a plain v2 demo cgroup the agent limits, and removes it', () => {
    const d = ok('demo');
    expect(d.support).toMatchObject({ mode: 'lxc', cgroup: 'v2' });
    expect(d.parentSubtreeControl.split(' ').sort()).toEqual(['cpu', 'io', 'memory', 'pids']);
    expect(d.applied.issues).toEqual([]);
    expect(d.limits).toEqual({ quotaUs: 30_000, periodUs: 100_000, memBytes: 64 * MiB });
    expect(d.measured.cores).toBeLessThanOrEqual(0.3 * 1.05); // its busy loop held at the quota
    expect(d.measured.cores).toBeGreaterThan(0.3 * 0.75);
    expect(d.removed).toBe(true);
  });
});
