import { describe, expect, it } from '@jest/globals';
import type { HostState } from '../../../../../core/contracts/host.ts';
import type { ScaleRequest } from '../../../../../core/contracts/request.ts';
import { defaultConfig } from '../../../../../core/contracts/service-config.ts';
import type { Container } from '../../../../../core/contracts/structure.ts';
import { admitContainer } from '../../../../../core/policy/planner/admission.ts';
import { accountingIssues } from '../../../../../core/policy/planner/capacity.ts';
import { type PlanInput, plan } from '../../../../../core/policy/planner/plan.ts';
import { aContainer, unadmitted } from '../../../../support/containers.ts';
import { aHost, aRequest, type HostOptions, spec } from '../../../../support/planner-fixtures.ts';

const NOW = 1_000_000;
const config = defaultConfig('scaler');

function hostWith(containers: Container[], o: HostOptions = {}): HostState {
  let host = aHost(o);
  for (const c of containers) {
    const out = admitContainer(host, { ...c, host: host.name }, NOW - 10_000);
    if (!out.ok) throw new Error(out.reason);
    host = out.host;
  }
  return host;
}

function run(hosts: HostState[], requests: ScaleRequest[], extra: Partial<PlanInput> = {}) {
  const out = plan({ hosts, requests, config, now: NOW, ...extra });
  // no new accounting issue (a fixture may start with a container below its min)
  for (const h of out.hosts) {
    const before = new Set(accountingIssues(hosts.find((x) => x.name === h.name) as HostState));
    expect(accountingIssues(h).filter((i) => !before.has(i))).toEqual([]);
  }
  return out;
}

const ct = (h: HostState, name: string) => {
  const found = h.containers[name];
  if (found === undefined) throw new Error(`no ${name}`);
  return found;
};

describe('plan: capacity arithmetic', () => {
  it('fulfils a scale-up partially from what the host has free', () => {
    const host = hostWith(
      [
        aContainer('a', 'host0', { resources: { mem: spec(1000, 256, 4000) }, ...unadmitted() }),
        aContainer('b', 'host0', { resources: { mem: spec(2500, 256, 4000) }, ...unadmitted() }),
      ],
      { memMiB: 4096 },
    );
    const r = aRequest('a', 'mem', 1000);
    const out = run([host], [r]);
    const next = out.hosts[0] as HostState;
    expect(ct(next, 'a').resources.mem?.current).toBe(1596); // 1000 + (4096 − 1000 − 2500 = 596 free)
    expect(next.capacity.mem.free).toBe(0);
    expect(out.accepted).toEqual([r.id]);
    expect(out.notes[0]?.reason).toMatch(/partial: host0 had 596 free/);
  });

  it('applies scale-downs before scale-ups so freed capacity can be reused', () => {
    const host = hostWith(
      [
        aContainer('a', 'host0', { resources: { mem: spec(1000, 256, 4000) }, ...unadmitted() }),
        aContainer('b', 'host0', { resources: { mem: spec(2500, 256, 4000) }, ...unadmitted() }),
      ],
      { memMiB: 4096 },
    );
    // listed up first: the planner still runs b's scale-down first
    const out = run([host], [aRequest('a', 'mem', 1000), aRequest('b', 'mem', -500)]);
    const next = out.hosts[0] as HostState;
    expect(ct(next, 'b').resources.mem?.current).toBe(2000); // 2500 − 500
    expect(ct(next, 'a').resources.mem?.current).toBe(2000); // 596 + 500 = 1096 free ≥ 1000
    expect(next.capacity.mem.free).toBe(96); // 4096 − 2000 − 2000
    expect(out.orders.map((o) => o.container).sort()).toEqual(['a', 'b']);
  });

  it('clamps to max and rejects a scale-up of a container already at max', () => {
    const host = hostWith([
      aContainer('a', 'host0', { resources: { cpu: spec(350, 100, 400) }, ...unadmitted() }),
    ]);
    const first = run([host], [aRequest('a', 'cpu', 200)]);
    const next = first.hosts[0] as HostState;
    expect(ct(next, 'a').resources.cpu?.current).toBe(400); // 350 + 200 clamped to max 400
    const second = run([next], [aRequest('a', 'cpu', 50, { id: 'again' })]);
    expect(second.hosts).toEqual([]);
    expect(second.rejected).toEqual([{ id: 'again', reason: 'a.cpu is already at max 400' }]);
  });

  it('drops a scale-down that would end at 0 change, with the floor as the reason', () => {
    const host = hostWith([
      aContainer('a', 'host0', { resources: { cpu: spec(100, 100, 400) }, ...unadmitted() }),
    ]);
    const out = run([host], [aRequest('a', 'cpu', -50, { id: 'down' })]);
    expect(out.orders).toEqual([]);
    expect(out.rejected).toEqual([{ id: 'down', reason: 'a.cpu cannot go below min 100 (at 100)' }]);
  });

  it('takes disk bandwidth from the bound disk, bounded by the combined read+write rule', () => {
    // ssd0: maxRead 500, maxWrite 400; combined cap max(500, 400) = 500
    const host = hostWith([
      aContainer('a', 'host0', {
        resources: { disk_read: spec(200, 10, 500), disk_write: spec(150, 10, 400) },
        ...unadmitted(),
      }),
    ]);
    const out = run([host], [aRequest('a', 'disk_read', 300)]);
    const next = out.hosts[0] as HostState;
    expect(ct(next, 'a').resources.disk_read?.current).toBe(350); // 500 − 200 − 150 = 150 more
    expect(next.capacity.disks.ssd0?.freeRead).toBe(150); // 500 − 350
  });

  it('scales net without host accounting when the host declares no net capacity', () => {
    const host = hostWith(
      [aContainer('a', 'host0', { resources: { net: spec(100, 10, 5000) }, ...unadmitted() })],
      { netMbps: null },
    );
    const out = run([host], [aRequest('a', 'net', 4000)]);
    expect(ct(out.hosts[0] as HostState, 'a').resources.net?.current).toBe(4100);
  });

  it('plans no scale-up on a degraded host but still scales down', () => {
    const host = {
      ...hostWith([
        aContainer('a', 'host0', {
          resources: { cpu: spec(200, 100, 400), mem: spec(2000, 100, 4000) },
          ...unadmitted(),
        }),
      ]),
      degraded: true,
    };
    const out = run(
      [host],
      [aRequest('a', 'cpu', 100, { id: 'up' }), aRequest('a', 'mem', -1000, { id: 'down' })],
    );
    expect(out.rejected).toEqual([{ id: 'up', reason: 'host0 is degraded (agent silent): no scale-ups' }]);
    expect(out.accepted).toEqual(['down']);
  });
});

describe('plan: memory safety', () => {
  const host = hostWith([
    aContainer('a', 'host0', { resources: { mem: spec(2000, 256, 4000) }, ...unadmitted() }),
  ]);

  it('trims a scale-down at usage plus the safety margin', () => {
    const out = run([host], [aRequest('a', 'mem', -500, { usage: 1800 })]);
    expect(ct(out.hosts[0] as HostState, 'a').resources.mem?.current).toBe(1864); // 1800 + 64
    expect(out.notes[0]?.reason).toMatch(/trimmed at usage 1800 \+ margin 64 MiB/);
  });

  it('refuses a scale-down when usage plus margin is already above the limit', () => {
    const out = run([host], [aRequest('a', 'mem', -500, { id: 'oom', usage: 1950 })]);
    expect(out.hosts).toEqual([]);
    expect(out.rejected[0]).toEqual({
      id: 'oom',
      reason: 'a.mem cannot go below usage 1950 + margin 64 MiB (at 2000)',
    });
  });
});

describe('plan: filtering and ordering', () => {
  const host = hostWith([
    aContainer('a', 'host0', { resources: { cpu: spec(200, 100, 800) }, ...unadmitted() }),
  ]);

  it('keeps the higher priority of two requests for the same target, else the newest', () => {
    const low = aRequest('a', 'cpu', 100, { id: 'low', priority: 0, timestamp: NOW - 1000 });
    const high = aRequest('a', 'cpu', 50, { id: 'high', priority: 2, timestamp: NOW - 5000 });
    const out = run([host], [low, high]);
    expect(ct(out.hosts[0] as HostState, 'a').resources.cpu?.current).toBe(250); // 200 + 50
    expect(out.rejected).toEqual([{ id: 'low', reason: 'superseded by high' }]);
    const older = aRequest('a', 'cpu', 100, { id: 'older', timestamp: NOW - 2000 });
    const newer = aRequest('a', 'cpu', 20, { id: 'newer', timestamp: NOW - 1000 });
    expect(run([host], [newer, older]).rejected).toEqual([{ id: 'older', reason: 'superseded by newer' }]);
  });

  it('drops requests older than REQUEST_TIMEOUT', () => {
    const out = run([host], [aRequest('a', 'cpu', 100, { id: 'old', timestamp: NOW - 30_001 })]);
    expect(out.rejected).toEqual([{ id: 'old', reason: 'expired: older than REQUEST_TIMEOUT 30 s' }]);
  });

  it('lowers current with max on a max scale-down and frees the capacity', () => {
    const out = run([host], [aRequest('a', 'cpu', -700, { field: 'max' })]);
    const a = ct(out.hosts[0] as HostState, 'a');
    expect(a.resources.cpu).toMatchObject({ max: 100, current: 100 }); // 800 − 700 = 100 ≥ min 100
    expect((out.hosts[0] as HostState).capacity.cpu.free).toBe(700); // 800 − 100
  });
});

describe('plan: orders', () => {
  it('issues one order per changed container with full limits and the next version', () => {
    const host = hostWith([
      aContainer('a', 'host0', {
        resources: { cpu: spec(200, 100, 800), mem: spec(1000, 256, 4000) },
        ...unadmitted(),
      }),
    ]);
    const before = ct(host, 'a').desiredVersion; // 1 after admission
    const out = run(
      [host],
      [aRequest('a', 'cpu', 50, { reasons: [{ source: 'CpuRescaleUp', text: 'busy', values: {} }] })],
    );
    expect(out.orders).toHaveLength(1);
    const order = out.orders[0];
    expect(order).toMatchObject({
      host: 'host0',
      container: 'a',
      desiredVersion: before + 1,
      issuedAt: NOW,
      expiresAt: NOW + 120_000,
      limits: { cpuShares: 250, cpuset: '0,2,4', memMiB: 1000 }, // 200 on cores 0, 2; +50 on 4
    });
    expect(order?.reasons.map((r) => r.source)).toEqual(['CpuRescaleUp', 'planner']);
    expect((out.hosts[0] as HostState).version).toBe(host.version + 1);
  });
});

describe('plan: pairs', () => {
  const host = hostWith(
    [
      aContainer('rx', 'host0', { resources: { cpu: spec(300, 100, 500) }, ...unadmitted() }),
      aContainer('tx', 'host0', { resources: { cpu: spec(500, 100, 600) }, ...unadmitted() }),
    ],
    { sockets: 1, coresPerSocket: 4, threads: 2 },
  );
  // 800 shares, all allocated: 300 + 500

  it('moves the amount from donor to receiver on a full host', () => {
    const out = run([host], [aRequest('rx', 'cpu', 150, { pairStructure: 'tx', source: 'rebalancer' })]);
    const next = out.hosts[0] as HostState;
    expect(ct(next, 'rx').resources.cpu?.current).toBe(450); // 300 + 150
    expect(ct(next, 'tx').resources.cpu?.current).toBe(350); // 500 − 150
    expect(next.capacity.cpu.free).toBe(0);
    expect(out.orders).toHaveLength(2);
  });

  it('applies neither half when the receiver cannot take the whole amount', () => {
    const out = run([host], [aRequest('rx', 'cpu', 250, { id: 'swap', pairStructure: 'tx' })]);
    expect(out.hosts).toEqual([]);
    expect(out.rejected).toEqual([{ id: 'swap', reason: 'receiver can take only 200 of 250' }]); // max 500 − 300
  });
});

describe('plan: application slices', () => {
  // c1: 100, usage 90 (headroom 10); c2: 100, usage 50 (headroom 50); c3: 40 < min 50
  const host = hostWith([
    aContainer('c1', 'host0', {
      resources: { cpu: spec(100, 50, 400) },
      ...unadmitted(),
      application: 'app',
    }),
    aContainer('c2', 'host0', {
      resources: { cpu: spec(100, 50, 400) },
      ...unadmitted(),
      application: 'app',
    }),
    aContainer('c3', 'host0', { resources: { cpu: spec(50, 50, 400) }, ...unadmitted(), application: 'app' }),
  ]);
  host.containers.c3 = { ...ct(host, 'c3'), resources: { cpu: spec(40, 50, 400) } };
  host.capacity.cpu.free += 10;
  const cores = host.capacity.cpu.cores;
  for (const u of Object.values(cores)) {
    if (u.alloc.c3 !== undefined) {
      u.alloc.c3 -= 10;
      u.free += 10;
      break;
    }
  }
  const applications = {
    app: {
      name: 'app',
      user: null,
      guard: true,
      state: 'running' as const,
      containers: ['c1', 'c2', 'c3'],
      resources: {},
      version: 0,
    },
  };
  const usage = { c1: { cpu: 90 }, c2: { cpu: 50 }, c3: { cpu: 30 } };

  it('gives scale-up slices to the container below min first, then the one with least headroom', () => {
    const out = run([host], [aRequest('app', 'cpu', 20, { structureType: 'application' })], {
      applications,
      usage,
    });
    const next = out.hosts[0] as HostState;
    // slices of 5: c3 40→45→50 (below min), then c1 (headroom 10 < c3's 20 < c2's 50) 100→105→110
    expect(ct(next, 'c3').resources.cpu?.current).toBe(50);
    expect(ct(next, 'c1').resources.cpu?.current).toBe(110);
    expect(ct(next, 'c2').resources.cpu?.current).toBe(100);
    expect(out.requestsByHost.host0?.map((r) => [r.structure, r.amount])).toEqual([
      ['c3', 10],
      ['c1', 10],
    ]);
  });

  it('takes scale-down slices from the container with most headroom', () => {
    const out = run([host], [aRequest('app', 'cpu', -15, { structureType: 'application' })], {
      applications,
      usage,
    });
    const next = out.hosts[0] as HostState;
    expect(ct(next, 'c2').resources.cpu?.current).toBe(85); // headroom 50 → 45 → 40, always the largest
    expect(ct(next, 'c1').resources.cpu?.current).toBe(100);
  });

  it('reports partial fulfilment when the containers reach their max', () => {
    const out = run([host], [aRequest('app', 'cpu', 2000, { id: 'big', structureType: 'application' })], {
      applications,
      usage,
    });
    // room: 800 − 240 = 560 shares free; bounds allow 300 + 300 + 360 = 960 → the host binds first
    expect(out.notes).toEqual([{ id: 'big', reason: 'application got 560 of 2000' }]);
  });
});
