/**
 * Request bodies and path parameters of the API. These schemas validate every
 * request and generate the OpenAPI document, so the two never drift.
 */

import { z } from 'zod';
import {
  ApplicationName,
  AppState,
  BoundaryType,
  ContainerName,
  CoreTopology,
  CpuPlacement,
  DiskBinding,
  HostName,
  Name,
  RescalePolicy,
  Resource,
  RuleName,
  ScaleDirection,
  ServiceName,
  UserName,
} from '../../core/contracts/index.ts';
import { hasOwn } from '../../core/contracts/keyed.ts';
import { Amount } from '../../core/contracts/units.ts';

export const PARAMS: Readonly<Record<string, z.ZodType>> = {
  host: HostName,
  disk: Name.describe('disk name'),
  container: ContainerName,
  app: ApplicationName,
  user: UserName,
  resource: Resource,
  rule: RuleName,
  service: ServiceName,
  key: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/, { message: 'must be an UPPER_CASE config key' }),
};

const Weight = z.number().positive().finite();

export const HostDiskInput = z.strictObject({
  path: z.string().startsWith('/'),
  device: z
    .string()
    .regex(/^\d+:\d+$/)
    .nullable()
    .default(null),
  readMiBps: Amount.min(1),
  writeMiBps: Amount.min(1),
});

export const HostRegistration = z
  .strictObject({
    cpu: z.strictObject({
      /** Number of logical CPUs; topology defaults to one socket, one core per CPU. */
      cores: z.number().int().min(1).max(4096).optional(),
      topology: z.array(CoreTopology).min(1).max(4096).optional(),
    }),
    memMiB: Amount.min(1),
    disks: z.record(Name, HostDiskInput).default({}),
    netMbps: Amount.min(1).nullable().default(null),
    cpuPlacement: CpuPlacement.default('pinned'),
  })
  .refine((h) => h.cpu.cores !== undefined || h.cpu.topology !== undefined, {
    message: 'give cores or topology',
    path: ['cpu', 'cores'],
  })
  .refine(
    (h) => h.cpu.cores === undefined || h.cpu.topology === undefined || h.cpu.cores === h.cpu.topology.length,
    { message: 'must equal the number of CPUs in topology', path: ['cpu', 'cores'] },
  )
  .refine((h) => new Set((h.cpu.topology ?? []).map((c) => c.id)).size === (h.cpu.topology ?? []).length, {
    message: 'CPU ids must be unique',
    path: ['cpu', 'topology'],
  });
export type HostRegistration = z.output<typeof HostRegistration>;

/** A container resource at subscription: min ≤ current ≤ max. */
export const ResourceInput = z
  .strictObject({
    max: Amount,
    min: Amount,
    current: Amount,
    guard: z.boolean().default(true),
    weight: Weight.default(1),
  })
  .refine((r) => r.min <= r.max, { message: 'min must be ≤ max', path: ['min'] })
  .refine((r) => r.current <= r.max, { message: 'current must be ≤ max', path: ['current'] })
  .refine((r) => r.current >= r.min, { message: 'current must be ≥ min', path: ['current'] });

export const LimitsInput = z.strictObject({
  boundary: z.number().min(0).max(100),
  boundary_type: BoundaryType.default('percentage_of_max'),
});

export const ContainerSubscription = z
  .strictObject({
    host: HostName,
    resources: z.strictObject({
      cpu: ResourceInput,
      mem: ResourceInput,
      disk_read: ResourceInput.optional(),
      disk_write: ResourceInput.optional(),
      net: ResourceInput.optional(),
    }),
    disk: DiskBinding.optional(),
    /** Whether the Guardian scales this container. */
    guard: z.boolean().default(true),
    limits: z.partialRecord(Resource, LimitsInput).default({}),
  })
  .refine((c) => (c.resources.disk_read === undefined && c.resources.disk_write === undefined) || c.disk, {
    message: 'disk_read and disk_write need a disk binding',
    path: ['disk'],
  })
  .refine((c) => Object.keys(c.limits).every((r) => hasOwn(c.resources, r)), {
    message: 'limits given for a resource the container does not have',
    path: ['limits'],
  });
export type ContainerSubscription = z.output<typeof ContainerSubscription>;

export const ResourcePatch = z
  .strictObject({
    max: Amount.optional(),
    min: Amount.optional(),
    weight: Weight.optional(),
    guard: z.boolean().optional(),
    /** Containers only, and alone: the planner changes the allocation (host capacity checked). */
    current: Amount.optional(),
  })
  .refine((p) => Object.values(p).some((v) => v !== undefined), {
    message: 'give at least one of max, min, weight, guard, current',
  })
  .refine((p) => p.current === undefined || Object.values(p).filter((v) => v !== undefined).length === 1, {
    message: 'current goes to the planner: set it on its own',
    path: ['current'],
  });
export type ResourcePatch = z.output<typeof ResourcePatch>;

export const GuardInput = z.strictObject({
  guard: z.boolean(),
  /** Only these resources' guard flags; without it, the structure's flag. */
  resources: z.array(Resource).min(1).optional(),
});

export const LimitsPatch = z
  .strictObject({
    boundary: z.number().min(0).max(100).optional(),
    boundary_type: BoundaryType.optional(),
  })
  .refine((p) => p.boundary !== undefined || p.boundary_type !== undefined, {
    message: 'give boundary or boundary_type',
  });

export const StructureResourceInput = z
  .strictObject({
    max: Amount,
    min: Amount.default(0),
    guard: z.boolean().default(true),
    weight: Weight.default(1),
  })
  .refine((r) => r.min <= r.max, { message: 'min must be ≤ max', path: ['min'] });

export const ApplicationInput = z
  .strictObject({
    guard: z.boolean().default(false),
    state: AppState.default('running'),
    resources: z.partialRecord(Resource, StructureResourceInput).default({}),
    limits: z.partialRecord(Resource, LimitsInput).default({}),
  })
  .refine((a) => Object.keys(a.limits).every((r) => hasOwn(a.resources, r)), {
    message: 'limits given for a resource the application does not have',
    path: ['limits'],
  });

export const UserInput = z.strictObject({
  resources: z
    .partialRecord(
      Resource,
      z
        .strictObject({ max: Amount, min: Amount.default(0) })
        .refine((r) => r.min <= r.max, { message: 'min must be ≤ max', path: ['min'] }),
    )
    .default({}),
});

export const Value = <T extends z.ZodType>(value: T) => z.strictObject({ value });

export const EventsRequiredInput = z.strictObject({
  value: z.number().int().min(1).max(1000),
  /** Which count's threshold to change; defaults to the rule's own direction. */
  direction: ScaleDirection.optional(),
});

export const PolicyInput = Value(RescalePolicy);
export const AmountInput = Value(z.number().int());

export const ConfigPatch = z.record(z.string(), z.unknown());

export const ManualRequest = z
  .strictObject({
    structure: Name,
    resource: Resource,
    /** Signed step in the resource's unit (cpu shares, MiB, MiB/s, Mbit/s). */
    amount: z
      .number()
      .int()
      .refine((n) => n !== 0, { message: 'must not be 0' })
      .optional(),
    /** A new max instead of a step. */
    max: Amount.optional(),
  })
  .refine((r) => (r.amount === undefined) !== (r.max === undefined), {
    message: 'give exactly one of amount or max',
    path: ['amount'],
  });
export type ManualRequest = z.output<typeof ManualRequest>;
