import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  BYTES_PER_MIB,
  compactCpuList,
  expandCpuList,
  oomGuardWrites,
  type PlanContext,
  plan,
  readBackMatches,
} from '../../../../host-agent/cgroup/plan.ts';
import { AbsurdValueError } from '../../../../host-agent/errors.ts';
import { kernelV2Answer } from '../../../support/cgroup-tree.ts';

function aContext(over: Partial<PlanContext> = {}): PlanContext {
  return {
    version: 'v1',
    cpuPeriodUs: 100_000,
    hostCpus: ['0', '1', '2', '3'],
    hostMemMiB: 8192,
    diskDevice: '254:0',
    currentMemMiB: 1024,
    hasVeth: true,
    ...over,
  };
}

describe('plan (v1)', () => {
  it('writes the CFS period then a quota of shares × period / 100', () => {
    const p = plan({ cpuShares: 150 }, aContext());
    expect(p.writes).toEqual([
      { resource: 'cpu', controller: 'cpu', file: 'cpu.cfs_period_us', value: '100000' },
      // 150 × 100000 / 100 = 150000
      { resource: 'cpu', controller: 'cpu', file: 'cpu.cfs_quota_us', value: '150000' },
    ]);
  });

  it('pins cpus in the kernel’s compact form, and unpins to every host cpu on an empty list', () => {
    expect(plan({ cpuset: '0,1,3' }, aContext()).writes).toEqual([
      { resource: 'cpuset', controller: 'cpuset', file: 'cpuset.cpus', value: '0-1,3' },
    ]);
    expect(plan({ cpuset: '' }, aContext()).writes[0]?.value).toBe('0-3');
  });

  it('writes memory in bytes', () => {
    // 512 MiB × 1048576 = 536870912
    expect(plan({ memMiB: 512 }, aContext()).writes).toEqual([
      { resource: 'mem', controller: 'memory', file: 'memory.limit_in_bytes', value: '536870912' },
    ]);
  });

  it('throttles the container’s disk device in bytes per second', () => {
    const p = plan({ diskReadMiBps: 10, diskWriteMiBps: 5 }, aContext());
    expect(p.writes).toEqual([
      // 10 MiB/s = 10485760 B/s
      {
        resource: 'disk_read',
        controller: 'blkio',
        file: 'blkio.throttle.read_bps_device',
        value: '254:0 10485760',
      },
      {
        resource: 'disk_write',
        controller: 'blkio',
        file: 'blkio.throttle.write_bps_device',
        value: '254:0 5242880',
      },
    ]);
  });

  it('skips disk limits with NO_DEVICE when the device is unknown, and net with NO_VETH', () => {
    const p = plan({ diskReadMiBps: 10, netMbps: 100 }, aContext({ diskDevice: null, hasVeth: false }));
    expect(p.writes).toEqual([]);
    expect(p.netMbps).toBeNull();
    expect(p.skipped.map((s) => s.code)).toEqual(['NO_DEVICE', 'NO_VETH']);
  });

  it('hands the net rate to tc', () => {
    expect(plan({ netMbps: 80 }, aContext()).netMbps).toBe(80);
  });
});

describe('plan: the OOM guard (v1)', () => {
  it('turns the OOM killer off after the limit while memory may grow, on when it may not', () => {
    const grow = plan({ memMiB: 512 }, aContext({ memGrowMiB: 128 })).writes;
    expect(grow.map((w) => [w.file, w.value])).toEqual([
      ['memory.limit_in_bytes', String(512 * BYTES_PER_MIB)],
      ['memory.oom_control', '1'],
    ]);
    const atMax = plan({ memMiB: 512 }, aContext({ memGrowMiB: 0 })).writes;
    expect(atMax.map((w) => [w.file, w.value])).toEqual([
      ['memory.limit_in_bytes', String(512 * BYTES_PER_MIB)],
      ['memory.oom_control', '0'],
    ]);
  });

  it('leaves the OOM killer alone when no guard is asked (memGrowMiB absent)', () => {
    expect(plan({ memMiB: 512 }, aContext()).writes.map((w) => w.file)).toEqual(['memory.limit_in_bytes']);
  });

  it('reads oom_kill_disable back from memory.oom_control', () => {
    expect(readBackMatches('memory.oom_control', '1', 'oom_kill_disable 1\nunder_oom 0\noom_kill 0\n')).toBe(
      true,
    );
    expect(readBackMatches('memory.oom_control', '0', 'oom_kill_disable 1\nunder_oom 1\noom_kill 0\n')).toBe(
      false,
    );
  });
});

describe('oomGuardWrites', () => {
  it('v1: the oom_kill_disable switch; v2: memory.max at high + the room to grow', () => {
    expect(oomGuardWrites('v1', 256, 64)).toEqual([
      { resource: 'mem', controller: 'memory', file: 'memory.oom_control', value: '1' },
    ]);
    expect(oomGuardWrites('v1', 256, 0)[0]?.value).toBe('0');
    expect(oomGuardWrites('v2', 256, 64)).toEqual([
      { resource: 'mem', controller: 'unified', file: 'memory.max', value: String(320 * BYTES_PER_MIB) },
    ]);
    expect(oomGuardWrites('v2', 256, -5)[0]?.value).toBe(String(256 * BYTES_PER_MIB)); // never below high
  });
});

describe('plan (v2)', () => {
  const v2 = aContext({ version: 'v2' });
  it('writes cpu.max as "<quota> <period>"', () => {
    expect(plan({ cpuShares: 50 }, v2).writes).toEqual([
      // 50 × 100000 / 100 = 50000
      { resource: 'cpu', controller: 'unified', file: 'cpu.max', value: '50000 100000' },
    ]);
  });

  it('scales memory down through memory.high before memory.max', () => {
    const p = plan({ memMiB: 256 }, aContext({ version: 'v2', currentMemMiB: 1024 }));
    expect(p.writes.map((w) => w.file)).toEqual(['memory.high', 'memory.max']);
    expect(p.writes[0]?.value).toBe(String(256 * BYTES_PER_MIB));
  });

  it('scales memory up through memory.max first', () => {
    const p = plan({ memMiB: 2048 }, aContext({ version: 'v2', currentMemMiB: 1024 }));
    expect(p.writes.map((w) => w.file)).toEqual(['memory.max', 'memory.high']);
  });

  it('puts memory.max one raise above memory.high while memory may grow (the throttle point is high)', () => {
    const up = plan({ memMiB: 512 }, aContext({ version: 'v2', currentMemMiB: 256, memGrowMiB: 128 }));
    expect(up.writes.map((w) => [w.file, Number(w.value) / BYTES_PER_MIB])).toEqual([
      ['memory.max', 512 + 128], // first: high never above max
      ['memory.high', 512],
    ]);
    const down = plan({ memMiB: 256 }, aContext({ version: 'v2', currentMemMiB: 512, memGrowMiB: 64 }));
    expect(down.writes.map((w) => [w.file, Number(w.value) / BYTES_PER_MIB])).toEqual([
      ['memory.high', 256], // first: reclaim at the throttle point, max never has to kill
      ['memory.max', 256 + 64],
    ]);
  });

  it('sets memory.max = memory.high when memory cannot grow (at max, host full, no fast path)', () => {
    const p = plan({ memMiB: 512 }, aContext({ version: 'v2', currentMemMiB: 256, memGrowMiB: 0 }));
    expect(p.writes.map((w) => w.value)).toEqual([String(512 * BYTES_PER_MIB), String(512 * BYTES_PER_MIB)]);
  });

  it('writes one io.max line on the device with every key asked', () => {
    expect(plan({ diskReadMiBps: 1, diskWriteMiBps: 2 }, v2).writes.map((w) => w.value)).toEqual([
      // 1 MiB/s = 1048576 B/s, 2 MiB/s = 2097152 B/s
      '254:0 rbps=1048576 wbps=2097152',
    ]);
    expect(plan({ diskWriteMiBps: 2 }, v2).writes.map((w) => w.value)).toEqual(['254:0 wbps=2097152']);
  });

  it('lifts a disk limit of 0 with "max" (the kernel answers ERANGE to rbps=0), as v1 lifts it with 0', () => {
    expect(plan({ diskReadMiBps: 0, diskWriteMiBps: 3 }, v2).writes.map((w) => w.value)).toEqual([
      '254:0 rbps=max wbps=3145728', // 3 × 1048576
    ]);
    expect(plan({ diskReadMiBps: 0 }, aContext()).writes.map((w) => w.value)).toEqual(['254:0 0']);
  });

  it('writes no cpuset.cpus where the cgroup has no cpuset controller and every cpu is asked', () => {
    const noCpuset = aContext({ version: 'v2', cpusetController: false });
    const unpin = plan({ cpuset: '', cpuShares: 50 }, noCpuset);
    expect(unpin.writes.map((w) => w.file)).toEqual(['cpu.max']);
    expect(unpin.skipped).toEqual([]);
  });

  it('skips a pin with NO_CPUSET where the cgroup has no cpuset controller', () => {
    const p = plan({ cpuset: '1' }, aContext({ version: 'v2', cpusetController: false }));
    expect(p.writes).toEqual([]);
    expect(p.skipped).toEqual([expect.objectContaining({ resource: 'cpu', code: 'NO_CPUSET' })]);
  });
});

describe('plan refuses absurd values, writing nothing', () => {
  it.each([
    [{ cpuShares: 401 }, 'cpuShares'], // 4 cpus = 400 shares
    [{ cpuShares: -5 }, 'cpuShares'],
    [{ cpuShares: 0.5 }, 'cpuShares'],
    [{ memMiB: 8193 }, 'memMiB'],
    [{ cpuset: '0,7' }, 'cpuset'],
    [{ cpuset: '3-1' }, 'cpuset'],
    [{ diskReadMiBps: 2_000_000 }, 'diskReadMiBps'],
    [{ netMbps: 5_000_000 }, 'netMbps'],
  ])('%j → %s', (limits, field) => {
    expect(() => plan(limits, aContext())).toThrow(AbsurdValueError);
    expect(() => plan(limits, aContext())).toThrow(`order.limits.${field}`);
  });
});

describe('cpu lists', () => {
  it('round-trips through expand and compact', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 127 }), { minLength: 1, maxLength: 40 }),
        (ids) => {
          const back = expandCpuList(compactCpuList(ids));
          expect(back).toEqual([...ids].sort((a, b) => a - b));
        },
      ),
    );
  });
  it('rejects malformed lists', () => {
    expect(expandCpuList('0-')).toBeNull();
    expect(expandCpuList('a')).toBeNull();
  });
});

describe('plan invariants', () => {
  it('every quota is shares × period / 100 and never under the kernel minimum', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 10_000, max: 1_000_000 }),
        (shares, period) => {
          const ctx = aContext({ cpuPeriodUs: period });
          const quota = (shares * period) / 100;
          if (quota < 1000) {
            expect(() => plan({ cpuShares: shares }, ctx)).toThrow(AbsurdValueError);
            return;
          }
          const w = plan({ cpuShares: shares }, ctx).writes.find((x) => x.file === 'cpu.cfs_quota_us');
          expect(Number(w?.value)).toBe(Math.round(quota));
        },
      ),
    );
  });
});

describe('readBackMatches', () => {
  it('compares cpu lists by set', () => {
    expect(readBackMatches('cpuset.cpus', '0,1', '0-1\n')).toBe(true);
    expect(readBackMatches('cpuset.cpus', '0', '0-1\n')).toBe(false);
  });
  it('finds the device’s line in v1 throttle files', () => {
    expect(readBackMatches('blkio.throttle.read_bps_device', '254:0 100', '8:0 5\n254:0 100\n')).toBe(true);
    expect(readBackMatches('blkio.throttle.read_bps_device', '254:0 100', '254:0 99\n')).toBe(false);
  });
  it('finds the key in a v2 io.max line', () => {
    expect(readBackMatches('io.max', '254:0 rbps=5', '254:0 rbps=5 wbps=max riops=max wiops=max\n')).toBe(
      true,
    );
    expect(readBackMatches('io.max', '254:0 rbps=5', '')).toBe(false);
  });
  it('checks every key of a v2 io.max line, as the kernel lists all four', () => {
    const line = '254:0 rbps=5 wbps=max riops=max wiops=max\n';
    expect(readBackMatches('io.max', '254:0 rbps=5 wbps=7', line)).toBe(false);
    expect(readBackMatches('io.max', '254:0 rbps=5 wbps=max', line)).toBe(true);
  });
  it('reads an io.max line the kernel removed (every key max) as all max', () => {
    expect(readBackMatches('io.max', '254:0 rbps=max wbps=max', '')).toBe(true);
    expect(readBackMatches('io.max', '254:0 rbps=max', '8:0 rbps=1 wbps=max riops=max wiops=max\n')).toBe(
      true,
    );
  });
  it('compares other files exactly, ignoring the newline', () => {
    expect(readBackMatches('cpu.max', '50000 100000', '50000 100000\n')).toBe(true);
  });
});

describe('v2 writes the kernel takes as written', () => {
  it('knows the answers measured on a 6.1 kernel', () => {
    // test/host/host-agent/cgroup-v2.uml.test.ts, "what the kernel refuses or rewrites"
    for (const [file, value, answer] of [
      ['cpu.max', '500 100000', 'EINVAL'],
      ['cpu.max', '-1 100000', 'EINVAL'],
      ['cpu.max', 'max', null],
      ['cpu.max', '50000', null],
      ['memory.max', '-1', 'EINVAL'],
      ['memory.max', '100000001', 'ROUNDED'],
      ['memory.max', '64M', null],
      ['io.max', '98:0 rbps=0', 'ERANGE'],
      ['io.max', '98:0 rbps=max wbps=max', null],
      ['io.max', '98:0 rbps=1048576', null],
    ] as const)
      expect([file, value, kernelV2Answer(file, value)]).toEqual([file, value, answer]);
  });

  it('plans only values a v2 kernel takes as written, for any order the planner accepts', () => {
    const ctx = aContext({ version: 'v2', hostCpus: ['0', '1', '2', '3'], hostMemMiB: 8192 });
    fc.assert(
      fc.property(
        fc.record(
          {
            cpuShares: fc.integer({ min: 1, max: 400 }),
            memMiB: fc.integer({ min: 0, max: 8192 }),
            diskReadMiBps: fc.integer({ min: 0, max: 4096 }),
            diskWriteMiBps: fc.integer({ min: 0, max: 4096 }),
            cpuset: fc.constantFrom('', '0', '1-3', '0,2'),
          },
          { requiredKeys: [] },
        ),
        (limits) => {
          let writes: { file: string; value: string }[];
          try {
            writes = plan(limits, ctx).writes;
          } catch (err) {
            if (err instanceof AbsurdValueError) return; // refused before any write
            throw err;
          }
          for (const w of writes)
            expect([w.file, w.value, kernelV2Answer(w.file, w.value)]).toEqual([w.file, w.value, null]);
        },
      ),
    );
  });
});
