/**
 * Host capacity arithmetic (pure): how much a container may still take of a
 * resource on its host, moving an allocation while keeping the host's free
 * counters and core map in step, and the accounting invariant every committed
 * host state must satisfy.
 */
import type { HostState } from '../../contracts/host.ts';
import type { Container } from '../../contracts/structure.ts';
import { type Resource, SHARES_PER_CORE } from '../../contracts/units.ts';
import { cloneCoreMap, coresOf, distributionOrder, placeShares, releaseShares, sharesOf } from './cores.ts';

/**
 * Deep copy of a host state that the planner may mutate. The topology is
 * shared: nothing ever mutates it (and sharing keeps the distribution order cached).
 */
export function cloneHost(host: HostState): HostState {
  const cap = host.capacity;
  const containers: Record<string, Container> = {};
  for (const [name, c] of Object.entries(host.containers)) containers[name] = cloneContainer(c);
  const disks: HostState['capacity']['disks'] = {};
  for (const [name, d] of Object.entries(cap.disks)) disks[name] = { ...d };
  return {
    ...host,
    capacity: {
      cpu: { ...cap.cpu, cores: cloneCoreMap(cap.cpu.cores) },
      mem: { ...cap.mem },
      disks,
      net: cap.net === null ? null : { ...cap.net },
    },
    containers,
  };
}

export function cloneContainer(c: Container): Container {
  const resources: Container['resources'] = {};
  for (const [res, spec] of Object.entries(c.resources) as [
    Resource,
    NonNullable<Container['resources'][Resource]>,
  ][])
    resources[res] = { ...spec };
  return { ...c, resources, cores: [...c.cores], disk: c.disk === null ? null : { ...c.disk } };
}

/**
 * The host's total of a resource (cpu shares, MiB, disk MiB/s, Mbit/s) for a container on
 * `disk`; null when the host has none to offer: no net capacity registered, or no disk named
 * (or the host does not know it). Null is "no total", not "zero": callers that bound a
 * value by the total leave it unbounded (the planner) or skip the check (the API).
 */
export function hostTotal(host: HostState, resource: Resource, disk: string | null): number | null {
  const c = host.capacity;
  switch (resource) {
    case 'cpu':
      return c.cpu.max;
    case 'mem':
      return c.mem.max;
    case 'net':
      return c.net?.max ?? null;
    case 'disk_read':
      return disk === null ? null : (c.disks[disk]?.maxRead ?? null);
    case 'disk_write':
      return disk === null ? null : (c.disks[disk]?.maxWrite ?? null);
  }
}

/**
 * Room the host has for `container` to grow `resource` by, in the resource's
 * unit; Infinity where the host does not account the resource (net without a
 * declared capacity); null when the container cannot hold the resource here
 * (no disk bound, or its disk unknown to the host).
 */
export function hostRoom(host: HostState, container: Container, resource: Resource): number | null {
  const cap = host.capacity;
  switch (resource) {
    case 'cpu':
      return host.cpuPlacement === 'pinned' ? Math.min(cap.cpu.free, freeOnCores(host)) : cap.cpu.free;
    case 'mem':
      return cap.mem.free;
    case 'net':
      return cap.net === null ? Number.POSITIVE_INFINITY : cap.net.free;
    case 'disk_read':
    case 'disk_write': {
      const disk = container.disk === null ? undefined : cap.disks[container.disk.name];
      if (disk === undefined) return null;
      // The original's combined rule: read + write together never exceed the faster direction.
      const consumed = disk.maxRead - disk.freeRead + (disk.maxWrite - disk.freeWrite);
      const combined = Math.max(disk.maxRead, disk.maxWrite) - consumed;
      const direction = resource === 'disk_read' ? disk.freeRead : disk.freeWrite;
      return Math.max(0, Math.min(direction, combined));
    }
  }
}

function freeOnCores(host: HostState): number {
  let sum = 0;
  for (const u of Object.values(host.capacity.cpu.cores)) sum += u.free;
  return sum;
}

/**
 * Change `container`'s `current` of `resource` by `delta` on `host` (both
 * mutated in place), keeping the host's free counters and core map in step.
 * The caller has checked `delta` against hostRoom and the container's bounds.
 */
export function moveAllocation(host: HostState, name: string, resource: Resource, delta: number): void {
  const container = host.containers[name];
  const spec = container?.resources[resource];
  if (container === undefined || spec === undefined || delta === 0) return;
  const cap = host.capacity;
  spec.current += delta;
  switch (resource) {
    case 'cpu': {
      cap.cpu.free -= delta;
      if (host.cpuPlacement === 'pinned') {
        const order = distributionOrder(cap.cpu.topology);
        if (delta > 0) placeShares(cap.cpu.cores, order, name, delta);
        else releaseShares(cap.cpu.cores, order, name, -delta);
        container.cores = coresOf(cap.cpu.cores, name);
      }
      return;
    }
    case 'mem':
      cap.mem.free -= delta;
      return;
    case 'net':
      if (cap.net !== null) cap.net.free -= delta;
      return;
    case 'disk_read':
    case 'disk_write': {
      const disk = container.disk === null ? undefined : cap.disks[container.disk.name];
      if (disk === undefined) return;
      if (resource === 'disk_read') disk.freeRead -= delta;
      else disk.freeWrite -= delta;
      return;
    }
  }
}

/**
 * Every way `host` breaks its accounting: free counters that differ from
 * capacity minus the sum of its containers' allocations, negative free
 * values, core maps out of step with cpu allocations, containers outside
 * [min, max]. An empty list means the host state is consistent.
 */
export function accountingIssues(host: HostState): string[] {
  const issues: string[] = [];
  const cap = host.capacity;
  const containers = Object.values(host.containers);
  const sum = (resource: Resource, filter: (c: Container) => boolean = () => true): number =>
    containers.filter(filter).reduce((s, c) => s + (c.resources[resource]?.current ?? 0), 0);

  const cpuUsed = sum('cpu');
  if (cap.cpu.free !== cap.cpu.max - cpuUsed)
    issues.push(`cpu.free ${cap.cpu.free} ≠ max ${cap.cpu.max} − allocated ${cpuUsed}`);
  if (cap.cpu.free < 0) issues.push(`cpu.free ${cap.cpu.free} < 0`);
  if (host.cpuPlacement === 'pinned') {
    for (const [id, u] of Object.entries(cap.cpu.cores)) {
      const held = Object.values(u.alloc).reduce((s, n) => s + n, 0);
      if (u.free + held !== SHARES_PER_CORE)
        issues.push(`core ${id}: free ${u.free} + held ${held} ≠ ${SHARES_PER_CORE}`);
      for (const owner of Object.keys(u.alloc))
        if (host.containers[owner] === undefined) issues.push(`core ${id} held by unknown ${owner}`);
    }
    for (const c of containers) {
      const shares = sharesOf(cap.cpu.cores, c.name);
      const want = c.resources.cpu?.current ?? 0;
      if (shares !== want) issues.push(`${c.name}: ${shares} shares on cores ≠ cpu.current ${want}`);
      const on = coresOf(cap.cpu.cores, c.name);
      if (on.join(',') !== [...c.cores].sort((a, b) => Number(a) - Number(b)).join(','))
        issues.push(`${c.name}: cores [${c.cores.join(',')}] ≠ core map [${on.join(',')}]`);
    }
  }
  const memUsed = sum('mem');
  if (cap.mem.free !== cap.mem.max - memUsed)
    issues.push(`mem.free ${cap.mem.free} ≠ max ${cap.mem.max} − allocated ${memUsed}`);
  if (cap.mem.free < 0) issues.push(`mem.free ${cap.mem.free} < 0`);
  if (cap.net !== null) {
    const netUsed = sum('net');
    if (cap.net.free !== cap.net.max - netUsed)
      issues.push(`net.free ${cap.net.free} ≠ max ${cap.net.max} − allocated ${netUsed}`);
    if (cap.net.free < 0) issues.push(`net.free ${cap.net.free} < 0`);
  }
  for (const [name, disk] of Object.entries(cap.disks)) {
    const bound = (c: Container) => c.disk?.name === name;
    const r = sum('disk_read', bound);
    const w = sum('disk_write', bound);
    if (disk.freeRead !== disk.maxRead - r)
      issues.push(`disk ${name}: freeRead ${disk.freeRead} ≠ ${disk.maxRead} − ${r}`);
    if (disk.freeWrite !== disk.maxWrite - w)
      issues.push(`disk ${name}: freeWrite ${disk.freeWrite} ≠ ${disk.maxWrite} − ${w}`);
    if (disk.freeRead < 0 || disk.freeWrite < 0) issues.push(`disk ${name}: negative free bandwidth`);
    if (r + w > Math.max(disk.maxRead, disk.maxWrite))
      issues.push(`disk ${name}: read ${r} + write ${w} > ${Math.max(disk.maxRead, disk.maxWrite)}`);
  }
  for (const c of containers) {
    for (const [res, spec] of Object.entries(c.resources)) {
      if (spec === undefined) continue;
      if (spec.current > spec.max) issues.push(`${c.name}.${res}: current ${spec.current} > max ${spec.max}`);
      if (spec.current < spec.min) issues.push(`${c.name}.${res}: current ${spec.current} < min ${spec.min}`);
    }
  }
  return issues;
}
