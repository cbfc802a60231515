/**
 * Admission of a container onto a host, and its release (pure). Admission
 * reserves the container's initial `current` of every resource (and its
 * cores, when the host pins) in the host value, all or nothing; release gives
 * back exactly what the container held. Both return the next host value with
 * `version` bumped: commit it with a conditional write on the input's version.
 */

import type { HostState } from '../../contracts/host.ts';
import { own } from '../../contracts/keyed.ts';
import type { ScaleOrder } from '../../contracts/order.ts';
import { defaultConfig } from '../../contracts/service-config.ts';
import type { Container } from '../../contracts/structure.ts';
import { RESOURCES } from '../../contracts/units.ts';
import { cloneContainer, cloneHost, hostRoom, moveAllocation } from './capacity.ts';
import { releaseAll } from './cores.ts';
import { buildOrder } from './orders.ts';

export type AdmitResult =
  | { ok: true; host: HostState; order: ScaleOrder }
  | { ok: false; field: string; reason: string };

export type ReleaseResult = { ok: true; host: HostState } | { ok: false; reason: string };

export interface AdmitOptions {
  /** Order lifetime, seconds (ScalerConfig.ORDER_TTL). */
  orderTtlS?: number;
}

export function admitContainer(
  host: HostState,
  container: Container,
  now: number,
  opts: AdmitOptions = {},
): AdmitResult {
  if (container.host !== host.name)
    return { ok: false, field: 'host', reason: `container names host ${container.host}, not ${host.name}` };
  if (own(host.containers, container.name) !== undefined)
    return { ok: false, field: 'name', reason: `${container.name} is already on ${host.name}` };
  const next = cloneHost(host);
  const placed: Container = {
    ...cloneContainer(container),
    cores: [],
    desiredVersion: container.desiredVersion + 1,
    desiredAt: now,
  };
  // Enter with nothing allocated, then take each resource's initial current.
  const initial: Partial<Record<(typeof RESOURCES)[number], number>> = {};
  for (const res of RESOURCES) {
    const spec = placed.resources[res];
    if (spec === undefined) continue;
    if (spec.current < spec.min)
      return {
        ok: false,
        field: `resources.${res}.current`,
        reason: `current ${spec.current} is below min ${spec.min}`,
      };
    initial[res] = spec.current;
    spec.current = 0;
  }
  next.containers[placed.name] = placed;
  for (const res of RESOURCES) {
    const want = initial[res];
    if (want === undefined || want === 0) continue;
    const room = hostRoom(next, placed, res);
    if (room === null)
      return {
        ok: false,
        field: 'disk',
        reason:
          placed.disk === null
            ? `${res} needs a bound disk`
            : `disk ${placed.disk.name} is not a disk of ${host.name}`,
      };
    if (room < want)
      return {
        ok: false,
        field: `resources.${res}.current`,
        reason: `${host.name} has ${room} ${res} free, ${want} needed`,
      };
    moveAllocation(next, placed.name, res, want);
  }
  next.version = host.version + 1;
  const order = buildOrder(next, placed, now, opts.orderTtlS ?? defaultConfig('scaler').ORDER_TTL, [
    { source: 'planner', text: `admitted to ${host.name}`, values: {} },
  ]);
  return { ok: true, host: next, order };
}

export function releaseContainer(host: HostState, name: string): ReleaseResult {
  const container = own(host.containers, name);
  if (container === undefined) return { ok: false, reason: `${name} is not on ${host.name}` };
  const next = cloneHost(host);
  for (const res of RESOURCES) {
    const spec = container.resources[res];
    if (spec === undefined || res === 'cpu') continue;
    moveAllocation(next, name, res, -spec.current);
  }
  const cpu = container.resources.cpu;
  if (cpu !== undefined) {
    next.capacity.cpu.free += cpu.current;
    releaseAll(next.capacity.cpu.cores, name);
  }
  delete next.containers[name];
  next.version = host.version + 1;
  return { ok: true, host: next };
}
