import { z } from 'zod';
import { ApplicationName, ContainerName, HostName, Name, UserName } from './names.ts';
import { DesiredVersion } from './order.ts';
import { Amount, Resource, Usage } from './units.ts';

/**
 * One resource of a structure, in the resource's unit (see units.ts).
 * `current` is the desired allocation (what the planner committed); the
 * applied value is reported separately by the host agent.
 */
export const ResourceSpec = z
  .object({
    max: Amount,
    min: Amount,
    current: Amount,
    guard: z.boolean().default(true),
    weight: z.number().positive().finite().default(1),
  })
  .refine((r) => r.min <= r.max, { message: 'min must be ≤ max', path: ['min'] })
  .refine((r) => r.current <= r.max, { message: 'current must be ≤ max', path: ['current'] });
export type ResourceSpec = z.infer<typeof ResourceSpec>;

export const ResourceMap = z.partialRecord(Resource, ResourceSpec);
export type ResourceMap = z.infer<typeof ResourceMap>;

export const StructureType = z.enum(['host', 'container', 'application', 'user']);
export type StructureType = z.infer<typeof StructureType>;

/** The host disk a container's data is bound to (for disk_read / disk_write). */
export const DiskBinding = z.object({
  name: Name.describe('disk name'),
  path: z.string().startsWith('/'),
});

/**
 * A container as kept inside its host's state item (see host.ts): the whole
 * desired state of the container, versioned by `desiredVersion`.
 */
export const Container = z.object({
  name: ContainerName,
  host: HostName,
  application: ApplicationName.nullable().default(null),
  guard: z.boolean().default(false),
  resources: ResourceMap,
  /** cpuset cores the planner placed the container on; [] in quota-only mode. */
  cores: z.array(z.string().regex(/^\d+$/)).default([]),
  disk: DiskBinding.nullable().default(null),
  /** Bumped by every committed change of limits; carried by the order. */
  desiredVersion: DesiredVersion.default(0),
  /** Epoch ms of the last desired change (for the sanity sweep's lag check). */
  desiredAt: z.number().int().nonnegative().default(0),
});
export type Container = z.infer<typeof Container>;

export const AppState = z.enum(['running', 'stopped']);

export const Application = z.strictObject({
  name: ApplicationName,
  user: UserName.nullable().default(null),
  guard: z.boolean().default(false),
  state: AppState.default('running'),
  containers: z.array(ContainerName).default([]),
  /** For applications `current` is the sum of the containers' and is recomputed, not stored authoritatively. */
  resources: ResourceMap,
  version: z.number().int().nonnegative().default(0),
});
export type Application = z.infer<typeof Application>;

export const User = z.strictObject({
  name: UserName,
  applications: z.array(ApplicationName).default([]),
  resources: ResourceMap,
  version: z.number().int().nonnegative().default(0),
});
export type User = z.infer<typeof User>;

/** Usage per resource of one structure over one window; null = no data. */
export const UsageMap = z.partialRecord(Resource, Usage);
export type UsageMap = z.infer<typeof UsageMap>;
