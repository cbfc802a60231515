import { describe, expect, it } from '@jest/globals';
import { admitContainer, releaseContainer } from '../../../../../core/policy/planner/admission.ts';
import { accountingIssues } from '../../../../../core/policy/planner/capacity.ts';
import { aContainer, unadmitted } from '../../../../support/containers.ts';
import { aHost, spec } from '../../../../support/planner-fixtures.ts';

const NOW = 1_700_000_000_000;

describe('admitContainer', () => {
  it('reserves every resource and places cpu on physical cores first', () => {
    const host = aHost();
    const ct = aContainer('ct1', 'host0', {
      resources: {
        cpu: spec(250, 100, 400),
        mem: spec(2048, 512, 4096),
        disk_read: spec(100, 10, 200),
        disk_write: spec(50, 10, 200),
        net: spec(100, 10, 500),
      },
      ...unadmitted(),
    });
    const out = admitContainer(host, ct, NOW);
    if (!out.ok) throw new Error(out.reason);
    const cap = out.host.capacity;
    expect(cap.cpu.free).toBe(550); // 800 − 250
    expect(cap.mem.free).toBe(14336); // 16384 − 2048
    expect(cap.disks.ssd0?.freeRead).toBe(400); // 500 − 100
    expect(cap.disks.ssd0?.freeWrite).toBe(350); // 400 − 50
    expect(cap.net?.free).toBe(900); // 1000 − 100
    // physical cores in order: 0 (s0c0), 2 (s0c1), 4 (s1c0): 100 + 100 + 50
    expect(out.host.containers.ct1?.cores).toEqual(['0', '2', '4']);
    expect(cap.cpu.cores['4']).toEqual({ free: 50, alloc: { ct1: 50 } });
    expect(out.host.version).toBe(1);
    expect(out.order.desiredVersion).toBe(1);
    expect(out.order.limits).toEqual({
      cpuShares: 250,
      cpuset: '0,2,4',
      memMiB: 2048,
      diskReadMiBps: 100,
      diskWriteMiBps: 50,
      netMbps: 100,
    });
    expect(out.order.expiresAt - out.order.issuedAt).toBe(120_000);
    expect(accountingIssues(out.host)).toEqual([]);
    expect(host.capacity.cpu.free).toBe(800); // input untouched
  });

  it('refuses, naming the field, when the host lacks memory, and changes nothing', () => {
    const host = aHost({ memMiB: 1024 });
    const out = admitContainer(
      host,
      aContainer('ct1', 'host0', { resources: { mem: spec(2048, 512, 4096) }, ...unadmitted() }),
      NOW,
    );
    expect(out).toEqual({
      ok: false,
      field: 'resources.mem.current',
      reason: 'host0 has 1024 mem free, 2048 needed',
    });
  });

  it('refuses a container already on the host or meant for another host', () => {
    const first = admitContainer(
      aHost(),
      aContainer('ct1', 'host0', { resources: { cpu: spec(100, 100, 200) }, ...unadmitted() }),
      NOW,
    );
    if (!first.ok) throw new Error(first.reason);
    expect(
      admitContainer(first.host, aContainer('ct1', 'host0', { resources: {}, ...unadmitted() }), NOW),
    ).toMatchObject({
      ok: false,
      field: 'name',
    });
    expect(
      admitContainer(aHost(), aContainer('ct2', 'other', { resources: {}, ...unadmitted() }), NOW),
    ).toMatchObject({
      ok: false,
      field: 'host',
    });
  });

  it('needs a bound disk known to the host for disk resources', () => {
    const out = admitContainer(
      aHost(),
      aContainer('ct1', 'host0', { resources: { disk_read: spec(10, 1, 20) }, ...unadmitted(), disk: null }),
      NOW,
    );
    expect(out).toMatchObject({ ok: false, field: 'disk' });
  });

  it('reserves shares without cores in quota mode', () => {
    const out = admitContainer(
      aHost({ placement: 'quota' }),
      aContainer('ct1', 'host0', { resources: { cpu: spec(150, 50, 400) }, ...unadmitted() }),
      NOW,
    );
    if (!out.ok) throw new Error(out.reason);
    expect(out.host.capacity.cpu.free).toBe(650);
    expect(out.host.containers.ct1?.cores).toEqual([]);
    expect(out.order.limits.cpuset).toBe('');
  });
});

describe('releaseContainer', () => {
  it('gives back exactly what the container held', () => {
    const host = aHost();
    const a = admitContainer(
      host,
      aContainer('a', 'host0', {
        resources: { cpu: spec(150, 50, 400), mem: spec(1000, 100, 2000) },
        ...unadmitted(),
      }),
      NOW,
    );
    if (!a.ok) throw new Error(a.reason);
    const b = admitContainer(
      a.host,
      aContainer('b', 'host0', {
        resources: { cpu: spec(120, 50, 400), net: spec(30, 1, 100) },
        ...unadmitted(),
      }),
      NOW,
    );
    if (!b.ok) throw new Error(b.reason);
    const out = releaseContainer(b.host, 'a');
    if (!out.ok) throw new Error(out.reason);
    expect(out.host.capacity.cpu.free).toBe(680); // 800 − 120
    expect(out.host.capacity.mem.free).toBe(16384);
    expect(out.host.containers.a).toBeUndefined();
    expect(accountingIssues(out.host)).toEqual([]);
    expect(out.host.version).toBe(b.host.version + 1);
    const both = releaseContainer(out.host, 'b');
    if (!both.ok) throw new Error(both.reason);
    expect(both.host.capacity).toEqual({ ...host.capacity });
  });

  it('refuses an unknown container', () => {
    expect(releaseContainer(aHost(), 'nope')).toEqual({ ok: false, reason: 'nope is not on host0' });
  });
});
