import { z } from 'zod';
import { ContainerName, HostName, Name } from './names.ts';
import { SchemaVersion } from './order.ts';
import { Container } from './structure.ts';
import { Amount } from './units.ts';

/** One logical CPU of the host, as read from its topology. */
export const CoreTopology = z.object({
  id: z.string().regex(/^\d+$/),
  socket: z.number().int().nonnegative(),
  /** Physical core id within the socket; SMT siblings share it. */
  core: z.number().int().nonnegative(),
});
export type CoreTopology = z.infer<typeof CoreTopology>;

/** Shares (0–100) of one logical CPU: what is free and what each container holds. */
export const CoreUsage = z.object({
  free: z.number().int().min(0).max(100),
  alloc: z.record(z.string(), z.number().int().positive().max(100)),
});
export type CoreUsage = z.infer<typeof CoreUsage>;

export const HostDisk = z.object({
  path: z.string().startsWith('/'),
  /** "major:minor" of the block device, when known. */
  device: z
    .string()
    .regex(/^\d+:\d+$/)
    .nullable()
    .default(null),
  maxRead: Amount.describe('MiB/s'),
  freeRead: Amount.describe('MiB/s'),
  maxWrite: Amount.describe('MiB/s'),
  freeWrite: Amount.describe('MiB/s'),
});
export type HostDisk = z.infer<typeof HostDisk>;

/**
 * Capacity of a host: totals and what is still free, per resource.
 * cpu in shares (100 per logical CPU), mem in MiB, disks in MiB/s, net in Mbit/s.
 */
export const HostCapacity = z.object({
  cpu: z.object({
    max: Amount,
    free: Amount,
    topology: z.array(CoreTopology).min(1),
    cores: z.record(z.string(), CoreUsage),
  }),
  mem: z.object({ max: Amount, free: Amount }),
  disks: z.record(Name, HostDisk).default({}),
  net: z.object({ max: Amount, free: Amount }).nullable().default(null),
});
export type HostCapacity = z.infer<typeof HostCapacity>;

export const CpuPlacement = z.enum(['pinned', 'quota']);

/**
 * The host's state item: its capacity and the desired state of all its
 * containers, changed together by one conditional write on `version` — the
 * atomic unit that keeps a host from being over-committed without transactions.
 */
export const HostState = z.looseObject({
  schemaVersion: SchemaVersion,
  name: HostName,
  version: z.number().int().nonnegative(),
  /** 'pinned': cpuset + quota; 'quota': CFS quota only. */
  cpuPlacement: CpuPlacement.default('pinned'),
  capacity: HostCapacity,
  containers: z.record(ContainerName, Container),
  /** Set by the sanity sweep when the agent's heartbeat is stale: no scale-ups planned here. */
  degraded: z.boolean().default(false),
  /** SQS queue URL of the host's orders. */
  queueUrl: z.string().nullable().default(null),
});
export type HostState = z.infer<typeof HostState>;
