import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { type HostState, HostState as HostStateSchema } from '../../../../core/contracts/host.ts';
import { defaultConfig } from '../../../../core/contracts/service-config.ts';
import { DEFAULT_RULES } from '../../../../core/policy/default-rules.ts';
import { admitContainer } from '../../../../core/policy/planner/admission.ts';
import { accountingIssues } from '../../../../core/policy/planner/capacity.ts';
import {
  checkAgentLiveness,
  checkHostAccounting,
  findAhead,
  findLagging,
  lastSignOfLife,
  raiseDesired,
  ruleFindings,
  topologyMismatch,
} from '../../../../core/policy/sanity-findings.ts';
import { aContainer, unadmitted } from '../../../support/containers.ts';
import { aHost as aPlannerHost, spec as plannerSpec } from '../../../support/planner-fixtures.ts';

function aHost(): HostState {
  return HostStateSchema.parse({
    name: 'h1',
    version: 3,
    cpuPlacement: 'pinned',
    capacity: {
      cpu: {
        max: 200,
        free: 50,
        topology: [
          { id: '0', socket: 0, core: 0 },
          { id: '1', socket: 0, core: 1 },
        ],
        cores: { '0': { free: 0, alloc: { c1: 100 } }, '1': { free: 50, alloc: { c2: 50 } } },
      },
      mem: { max: 4096, free: 1024 },
      disks: { ssd0: { path: '/mnt/ssd0', maxRead: 500, freeRead: 400, maxWrite: 300, freeWrite: 300 } },
    },
    containers: {
      c1: {
        name: 'c1',
        host: 'h1',
        resources: {
          cpu: { max: 200, min: 50, current: 100 },
          mem: { max: 4096, min: 256, current: 2048 },
          disk_read: { max: 200, min: 10, current: 100 },
        },
        disk: { name: 'ssd0', path: '/data' },
        desiredVersion: 4,
        desiredAt: 10_000,
      },
      c2: {
        name: 'c2',
        host: 'h1',
        resources: { cpu: { max: 200, min: 50, current: 50 }, mem: { max: 4096, min: 256, current: 1024 } },
        desiredVersion: 2,
        desiredAt: 10_000,
      },
    },
  });
}

describe('agent liveness', () => {
  it('marks a host whose heartbeat is older than HEARTBEAT_TIMEOUT, or missing', () => {
    // 61 s > 60 s
    expect(checkAgentLiveness({ name: 'h1', degraded: false }, { at: 0 }, 61_000, 60)).toEqual({
      host: 'h1',
      action: 'mark',
      ageS: 61,
    });
    expect(checkAgentLiveness({ name: 'h1', degraded: false }, null, 1, 60)?.action).toBe('mark');
    expect(checkAgentLiveness({ name: 'h1', degraded: false }, { at: 0 }, 60_000, 60)).toBeNull();
  });

  it('clears a degraded host once its heartbeat is fresh, and leaves a degraded stale one alone', () => {
    expect(checkAgentLiveness({ name: 'h1', degraded: true }, { at: 50_000 }, 60_000, 60)?.action).toBe(
      'clear',
    );
    expect(checkAgentLiveness({ name: 'h1', degraded: true }, { at: 0 }, 100_000, 60)).toBeNull();
  });

  it('gives an agent that announced its heartbeat period at least two periods, whatever the timeout', () => {
    const host = { name: 'h1', degraded: false };
    // HEARTBEAT_TIMEOUT 30 s under a 60 s period: silent only after 2 × 60 = 120 s
    const beat = lastSignOfLife({ at: 0, periodS: 60 }, []);
    expect(beat).toEqual({ at: 0, periodS: 60 });
    expect(checkAgentLiveness(host, beat, 90_000, 30)).toBeNull();
    expect(checkAgentLiveness(host, beat, 120_000, 30)).toBeNull();
    expect(checkAgentLiveness(host, beat, 121_000, 30)).toEqual({ host: 'h1', action: 'mark', ageS: 121 });
    // a timeout above two periods still rules; a report newer than the heartbeat keeps the period
    expect(checkAgentLiveness(host, beat, 150_000, 180)).toBeNull();
    expect(lastSignOfLife({ at: 0, periodS: 60 }, [{ appliedAt: 5_000 }])).toEqual({
      at: 5_000,
      periodS: 60,
    });
    // an agent that announced none: the timeout alone (31 s > 30 s)
    expect(checkAgentLiveness(host, { at: 0 }, 31_000, 30)?.action).toBe('mark');
  });
});

describe('last sign of life', () => {
  it('is the newer of the heartbeat and the newest report, null when neither was written', () => {
    const reports = [{ appliedAt: 20_000 }, { appliedAt: 90_000 }, { appliedAt: 50_000 }];
    expect(lastSignOfLife({ at: 60_000 }, reports)).toEqual({ at: 90_000 });
    expect(lastSignOfLife({ at: 95_000 }, reports)).toEqual({ at: 95_000 });
    expect(lastSignOfLife(null, reports)).toEqual({ at: 90_000 });
    expect(lastSignOfLife({ at: 60_000 }, [])).toEqual({ at: 60_000 });
    expect(lastSignOfLife(null, [])).toBeNull();
  });

  it('keeps an agent whose heartbeat is older than HEARTBEAT_TIMEOUT alive while its reports are fresh', () => {
    const now = 400_000;
    const live = lastSignOfLife({ at: now - 181_000 }, [{ appliedAt: now - 30_000 }]);
    expect(checkAgentLiveness({ name: 'h1', degraded: false }, live, now, 180)).toBeNull();
    // and marks it once both are older than the timeout (181 s > 180 s)
    const silent = lastSignOfLife({ at: now - 300_000 }, [{ appliedAt: now - 181_000 }]);
    expect(checkAgentLiveness({ name: 'h1', degraded: false }, silent, now, 180)).toEqual({
      host: 'h1',
      action: 'mark',
      ageS: 181,
    });
  });
});

describe('lagging containers', () => {
  it('finds containers whose applied version trails desired for longer than RESEND_AFTER', () => {
    const host = aHost();
    const applied = new Map([
      ['c1', { appliedVersion: 3 }],
      ['c2', { appliedVersion: 2 }],
    ]);
    // c1: desired 4, applied 3, (31 000 − 10 000) / 1000 = 21 s > 20 s
    expect(findLagging(host, applied, 31_000, 20)).toEqual([
      { host: 'h1', container: 'c1', desiredVersion: 4, appliedVersion: 3, lagS: 21 },
    ]);
    // 20 s is not yet "longer than"
    expect(findLagging(host, applied, 30_000, 20)).toEqual([]);
    // never reported at all
    expect(findLagging(host, new Map(), 31_000, 20).map((l) => [l.container, l.appliedVersion])).toEqual([
      ['c1', null],
      ['c2', null],
    ]);
  });
});

describe('host accounting', () => {
  it('finds nothing on a consistent host', () => {
    // cpu 200 − (100 + 50) = 50; mem 4096 − 3072 = 1024; ssd0 read 500 − 100 = 400, write 300 − 0
    expect(checkHostAccounting(aHost())).toEqual({ issues: [], repaired: null });
  });

  it('repairs free capacity and core free shares that disagree with the allocations', () => {
    const host = aHost();
    host.capacity.cpu.free = 120;
    host.capacity.mem.free = 0;
    const core1 = host.capacity.cpu.cores['1'];
    if (core1 === undefined) throw new Error('fixture');
    core1.free = 100;
    core1.alloc.ghost = 10;
    const { issues, repaired } = checkHostAccounting(host);
    expect(issues.map((i) => [i.field, i.stored, i.expected])).toEqual([
      ['cpu.free', 120, 50],
      ['mem.free', 0, 1024],
      ['cpu.cores.1.alloc.ghost', 10, null],
      ['cpu.cores.1.free', 100, 50],
    ]);
    expect(repaired?.cpu.free).toBe(50);
    expect(repaired?.mem.free).toBe(1024);
    expect(repaired?.cpu.cores['1']).toEqual({ free: 50, alloc: { c2: 50 } });
    // the input is left as it was
    expect(host.capacity.cpu.free).toBe(120);
  });

  it('reports an over-commit without repairing it', () => {
    const host = aHost();
    const c1 = host.containers.c1;
    if (c1?.resources.mem === undefined) throw new Error('fixture');
    c1.resources.mem.current = 4000;
    host.capacity.mem.free = 0;
    // 4096 − (4000 + 1024) = −928
    const { issues, repaired } = checkHostAccounting(host);
    expect(issues).toEqual([
      expect.objectContaining({ field: 'mem.free', expected: -928, repairable: false }),
    ]);
    expect(repaired).toBeNull();
  });

  it('reports a pinned container whose shares over its cores differ from its allocation', () => {
    const host = aHost();
    const c2 = host.containers.c2;
    if (c2?.resources.cpu === undefined) throw new Error('fixture');
    c2.resources.cpu.current = 60;
    host.capacity.cpu.free = 40;
    expect(checkHostAccounting(host).issues).toEqual([
      expect.objectContaining({
        field: 'cpu.cores[*].alloc.c2',
        stored: 50,
        expected: 60,
        repairable: false,
      }),
    ]);
  });
});

describe('rule reachability', () => {
  it('accepts the default rules under the default config', () => {
    expect(ruleFindings(DEFAULT_RULES, defaultConfig('guardian'))).toEqual([]);
  });

  it("flags the original framework's defaults (10 s windows, 40 s EVENT_TIMEOUT) for the down rules", () => {
    const config = { ...defaultConfig('guardian'), WINDOW_TIMELAPSE: 10, EVENT_TIMEOUT: 40 };
    // MemRescaleDown: 8 × 10 = 80 s > 40 s
    const names = ruleFindings(DEFAULT_RULES, config).map((f) => f.rule);
    expect(names).toContain('MemRescaleDown');
    expect(names).not.toContain('CpuRescaleUp');
  });
});

describe('rule findings', () => {
  it("name the rule and the Guardian check's field for a rule that fails it", () => {
    const base = DEFAULT_RULES.find((r) => r.name === 'CpuRescaleUp');
    if (base === undefined) throw new Error('fixture');
    const broken = { ...base, name: 'Broken', rule: { frobnicate: [1, 2] } };
    const findings = ruleFindings([broken], defaultConfig('guardian'));
    expect(findings).toEqual([
      { rule: 'Broken', text: expect.stringMatching(/^rule Broken: rule.*frobnicate/) },
    ]);
  });
});

describe('host accounting agrees with the planner', () => {
  it("finds nothing on hosts the planner built, and its repair satisfies the planner's own accounting check", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ cpu: fc.integer({ min: 10, max: 150 }), mem: fc.integer({ min: 64, max: 2048 }) }),
          {
            maxLength: 5,
          },
        ),
        fc.constantFrom('pinned' as const, 'quota' as const),
        fc.integer({ min: -500, max: 500 }),
        (specs, placement, skew) => {
          let host = aPlannerHost({ placement });
          for (const [i, s] of specs.entries()) {
            const out = admitContainer(
              host,
              aContainer(`c${i}`, host.name, {
                resources: { cpu: plannerSpec(s.cpu, 10, 400), mem: plannerSpec(s.mem, 64, 4096) },
                ...unadmitted(),
              }),
              0,
            );
            if (out.ok) host = out.host;
          }
          expect(checkHostAccounting(host)).toEqual({ issues: [], repaired: null });
          const corrupted = structuredClone(host);
          corrupted.capacity.cpu.free = Math.max(0, corrupted.capacity.cpu.free + skew);
          corrupted.capacity.mem.free = Math.max(0, corrupted.capacity.mem.free - skew);
          const { repaired } = checkHostAccounting(corrupted);
          expect(accountingIssues({ ...corrupted, capacity: repaired ?? corrupted.capacity })).toEqual([]);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('containers applied ahead of their desired version', () => {
  it('finds them and raises desired above applied, so every later order is newer again', () => {
    const host = aHost();
    // c1 desired v4, but an order at v9 (a refused absurd order, a hand-made one) was applied
    const applied = new Map([['c1', { appliedVersion: 9 }]]);
    expect(findAhead(host, applied)).toEqual([
      { host: 'h1', container: 'c1', desiredVersion: 4, appliedVersion: 9 },
    ]);
    const next = raiseDesired(host, findAhead(host, applied));
    expect(next.containers.c1?.desiredVersion).toBe(10); // 9 + 1
    expect(next.version).toBe(host.version + 1);
    expect(findAhead(next, applied)).toEqual([]);
    // and the raised version is lagging (applied 9 < desired 10): the sweep re-sends it
    expect(findLagging(next, applied, 31_000, 20).map((l) => l.container)).toContain('c1');
  });
});

describe('topologyMismatch', () => {
  const cpus = [
    { id: '0', socket: 0, core: 0 },
    { id: '1', socket: 0, core: 1 },
  ];
  it('agrees when the cpus match id for id and registered memory is at most the reported', () => {
    expect(topologyMismatch({ cpus, memMiB: 3000 }, { cpus: [...cpus].reverse(), memMiB: 3900 })).toEqual([]);
  });
  it('names the cpus only one side has, and memory registered above what the host has', () => {
    const reported = { cpus: [{ id: '0', socket: 0, core: 0 }], memMiB: 2048 };
    expect(topologyMismatch({ cpus, memMiB: 4096 }, reported)).toEqual([
      'cpus registered 2, reported 1; registered only: 1@0/1 (cpu id@socket/core)',
      'memory registered 4096 MiB is above the 2048 MiB the host has',
    ]);
  });
  it('tells a core moved to another socket', () => {
    const moved = [cpus[0], { id: '1', socket: 1, core: 0 }] as typeof cpus;
    expect(topologyMismatch({ cpus, memMiB: 1 }, { cpus: moved, memMiB: 1 })).toEqual([
      'cpus registered 2, reported 2; registered only: 1@0/1; reported only: 1@1/0 (cpu id@socket/core)',
    ]);
  });
});
