import { describe, expect, it } from '@jest/globals';
import type { HostState } from '../../../../../core/contracts/host.ts';
import { admitContainer } from '../../../../../core/policy/planner/admission.ts';
import {
  accountingIssues,
  cloneHost,
  hostRoom,
  hostTotal,
  moveAllocation,
} from '../../../../../core/policy/planner/capacity.ts';
import { aContainer, unadmitted } from '../../../../support/containers.ts';
import { aHost, spec } from '../../../../support/planner-fixtures.ts';

function twoContainers(): HostState {
  let host = aHost();
  for (const c of [
    aContainer('a', 'host0', {
      resources: {
        cpu: spec(150, 100, 400),
        mem: spec(1000, 100, 4000),
        disk_read: spec(100, 1, 400),
      },
      ...unadmitted(),
    }),
    aContainer('b', 'host0', {
      resources: { cpu: spec(100, 100, 400), disk_write: spec(300, 1, 400) },
      ...unadmitted(),
    }),
  ]) {
    const out = admitContainer(host, c, 0);
    if (!out.ok) throw new Error(out.reason);
    host = out.host;
  }
  return host;
}

describe('hostRoom', () => {
  it('bounds disk bandwidth by direction and by read + write together', () => {
    const host = twoContainers();
    const a = host.containers.a as NonNullable<HostState['containers']['a']>;
    // read: freeRead 500 − 100 = 400; combined max(500, 400) − (100 + 300) = 100
    expect(hostRoom(host, a, 'disk_read')).toBe(100);
    expect(hostRoom(host, a, 'cpu')).toBe(550); // 800 − 150 − 100
    expect(hostRoom(host, { ...a, disk: null }, 'disk_read')).toBeNull();
  });
});

describe('hostTotal', () => {
  it('answers the host total per resource, null where the host has none to offer', () => {
    // aHost: 2 sockets × 2 cores × 2 threads = 8 cpus → 800 shares; 16384 MiB; ssd0 500/400 MiB/s; 1000 Mbit/s
    const host = aHost();
    expect(hostTotal(host, 'cpu', null)).toBe(800);
    expect(hostTotal(host, 'mem', null)).toBe(16384);
    expect(hostTotal(host, 'net', null)).toBe(1000);
    expect(hostTotal(host, 'disk_read', 'ssd0')).toBe(500);
    expect(hostTotal(host, 'disk_write', 'ssd0')).toBe(400);
    expect(hostTotal(host, 'disk_read', null)).toBeNull();
    expect(hostTotal(host, 'disk_write', 'nvme9')).toBeNull();
    expect(hostTotal(aHost({ netMbps: null }), 'net', null)).toBeNull();
  });
});

describe('moveAllocation', () => {
  it('keeps free counters and the core map in step both ways', () => {
    const host = cloneHost(twoContainers());
    moveAllocation(host, 'a', 'cpu', 120);
    moveAllocation(host, 'a', 'mem', -400);
    expect(host.capacity.cpu.free).toBe(430); // 800 − 270 − 100
    expect(host.capacity.mem.free).toBe(15784); // 16384 − 600
    expect(accountingIssues(host)).toEqual([]);
  });
});

describe('accountingIssues', () => {
  it('finds a free counter out of step with the allocations', () => {
    const host = cloneHost(twoContainers());
    host.capacity.mem.free += 1;
    expect(accountingIssues(host)).toEqual(['mem.free 15385 ≠ max 16384 − allocated 1000']);
  });

  it('finds an over-committed host', () => {
    const host = cloneHost(twoContainers());
    (host.containers.a?.resources.mem as { current: number }).current = 17000;
    (host.containers.a?.resources.mem as { max: number }).max = 17000;
    host.capacity.mem.free = 16384 - 17000;
    expect(accountingIssues(host)).toEqual(['mem.free -616 < 0']);
  });

  it('finds a core map that disagrees with the cpu allocation', () => {
    const host = cloneHost(twoContainers());
    (host.containers.b?.resources.cpu as { current: number }).current = 110;
    host.capacity.cpu.free -= 10;
    expect(accountingIssues(host)).toEqual(['b: 100 shares on cores ≠ cpu.current 110']);
  });

  it('finds a container outside [min, max]', () => {
    const host = cloneHost(twoContainers());
    (host.containers.b?.resources.cpu as { min: number }).min = 150;
    expect(accountingIssues(host)).toEqual(['b.cpu: current 100 < min 150']);
  });
});
