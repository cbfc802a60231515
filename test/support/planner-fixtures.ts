/** Fixture builders for host states, containers and requests (planner tests and benches). */
import type { CoreTopology, HostState } from '../../core/contracts/host.ts';
import type { ScaleRequest } from '../../core/contracts/request.ts';
import type { ResourceSpec } from '../../core/contracts/structure.ts';
import type { Resource } from '../../core/contracts/units.ts';
import { emptyCoreMap } from '../../core/policy/planner/cores.ts';

/**
 * Topology with SMT siblings numbered adjacently: socket s, physical core c,
 * thread t → cpu id ((s × coresPerSocket) + c) × threads + t.
 */
export function topology(sockets: number, coresPerSocket: number, threads: number): CoreTopology[] {
  const out: CoreTopology[] = [];
  for (let s = 0; s < sockets; s++)
    for (let c = 0; c < coresPerSocket; c++)
      for (let t = 0; t < threads; t++)
        out.push({ id: String((s * coresPerSocket + c) * threads + t), socket: s, core: c });
  return out;
}

export interface HostOptions {
  name?: string;
  sockets?: number;
  coresPerSocket?: number;
  threads?: number;
  memMiB?: number;
  netMbps?: number | null;
  disks?: Record<string, { maxRead: number; maxWrite: number }>;
  placement?: 'pinned' | 'quota';
  queueUrl?: string | null;
}

/** An empty host: everything free. Default 2 sockets × 2 cores × 2 threads = 800 shares, 16 GiB. */
export function aHost(o: HostOptions = {}): HostState {
  const topo = topology(o.sockets ?? 2, o.coresPerSocket ?? 2, o.threads ?? 2);
  const disks: HostState['capacity']['disks'] = {};
  for (const [name, d] of Object.entries(o.disks ?? { ssd0: { maxRead: 500, maxWrite: 400 } }))
    disks[name] = {
      path: `/mnt/${name}`,
      device: null,
      maxRead: d.maxRead,
      freeRead: d.maxRead,
      maxWrite: d.maxWrite,
      freeWrite: d.maxWrite,
    };
  const net = o.netMbps === undefined ? 1000 : o.netMbps;
  return {
    name: o.name ?? 'host0',
    version: 0,
    cpuPlacement: o.placement ?? 'pinned',
    capacity: {
      cpu: { max: topo.length * 100, free: topo.length * 100, topology: topo, cores: emptyCoreMap(topo) },
      mem: { max: o.memMiB ?? 16384, free: o.memMiB ?? 16384 },
      disks,
      net: net === null ? null : { max: net, free: net },
    },
    containers: {},
    degraded: false,
    queueUrl: o.queueUrl ?? null,
  };
}

export function spec(current: number, min: number, max: number, guard = true): ResourceSpec {
  return { current, min, max, guard, weight: 1 };
}

let seq = 0;
export function aRequest(
  structure: string,
  resource: Resource,
  amount: number,
  extra: Partial<ScaleRequest> = {},
): ScaleRequest {
  seq += 1;
  return {
    id: `r${seq}`,
    structure,
    structureType: 'container',
    resource,
    field: 'current',
    amount,
    priority: 0,
    timestamp: 1_000_000,
    pairStructure: null,
    source: 'guardian',
    usage: null,
    reasons: [],
    ...extra,
  };
}
