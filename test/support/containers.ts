/**
 * The one container builder of the tests: `aContainer(name, host)` is a guarded container with
 * cpu max 400 / min 50 / current 300 and mem max 4096 / min 256 / current 2048 MiB, no disk, no
 * application, desired version 1. `cpu` and `mem` change some fields of those two; `resources`
 * replaces the whole map; any other field of the container is taken as given.
 */
import type { Container, ResourceSpec } from '../../core/contracts/structure.ts';
import type { Resource } from '../../core/contracts/units.ts';

export type ContainerOptions = Partial<Omit<Container, 'name' | 'host' | 'resources'>> & {
  /** Replaces the default cpu and mem (not with `cpu`/`mem`). */
  resources?: Partial<Record<Resource, ResourceSpec>>;
  cpu?: Partial<ResourceSpec>;
  mem?: Partial<ResourceSpec>;
};

export function aContainer(name: string, host: string, o: ContainerOptions = {}): Container {
  const { resources, cpu, mem, ...rest } = o;
  if (resources !== undefined && (cpu !== undefined || mem !== undefined))
    throw new Error('aContainer: give resources, or cpu/mem over the defaults, not both');
  return {
    name,
    host,
    application: null,
    guard: true,
    resources: resources ?? {
      cpu: { max: 400, min: 50, current: 300, guard: true, weight: 1, ...cpu },
      mem: { max: 4096, min: 256, current: 2048, guard: true, weight: 1, ...mem },
    },
    cores: [],
    disk: null,
    desiredVersion: 1,
    desiredAt: 0,
    ...rest,
  };
}

/** A container the planner has not admitted yet (desired version 0), on the host's disk ssd0. */
export function unadmitted(): Pick<Container, 'disk' | 'desiredVersion'> {
  return { disk: { name: 'ssd0', path: '/mnt/ssd0' }, desiredVersion: 0 };
}
