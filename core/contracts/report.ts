import { z } from 'zod';
import { CoreTopology } from './host.ts';
import { ContainerName, HostName } from './names.ts';
import { DesiredVersion, SchemaVersion } from './order.ts';
import { EpochMillis } from './units.ts';

/** Limits as read back from the cgroup files (null where the resource is unlimited or unreadable). */
export const AppliedLimits = z.object({
  cpuShares: z.number().int().nonnegative().nullable(),
  cpuset: z.string().nullable(),
  memMiB: z.number().int().nonnegative().nullable(),
  diskReadMiBps: z.number().int().nonnegative().nullable(),
  diskWriteMiBps: z.number().int().nonnegative().nullable(),
  netMbps: z.number().int().nonnegative().nullable(),
});
export type AppliedLimits = z.infer<typeof AppliedLimits>;

export const ApplyOutcome = z.enum(['applied', 'partial', 'refused', 'unknown-container']);

export const ApplyIssue = z.object({
  resource: z.string(),
  code: z.string(), // e.g. EBUSY, BELOW_USAGE, NO_DEVICE
  message: z.string(),
});

/**
 * What the host agent reports after applying (or refusing) an order, or
 * after reconciling. Written with a condition so appliedVersion never moves back.
 */
export const AgentReport = z.object({
  schemaVersion: SchemaVersion,
  host: HostName,
  container: ContainerName,
  appliedVersion: DesiredVersion,
  appliedAt: EpochMillis,
  outcome: ApplyOutcome,
  limits: AppliedLimits,
  issues: z.array(ApplyIssue).default([]),
  /** 'order' | 'reconcile' | 'oom-fastpath' */
  via: z.enum(['order', 'reconcile', 'oom-fastpath']),
});
export type AgentReport = z.infer<typeof AgentReport>;

/**
 * The host as its agent finds it at start (sysfs and /proc): logical CPUs with socket and physical
 * core, the SMT siblings sharing each core, memory, and the block devices it can see. Registering
 * a host from it (`sc host add --from-agent`) saves typing a topology; the sanity sweep compares
 * it with the registered capacity.
 */
export const HostTopologyReport = z.object({
  cpus: z.array(CoreTopology).min(1),
  /** Logical CPU ids per physical core, e.g. [["0","2"],["1","3"]] on 2 cores × 2 threads. */
  smtSiblings: z.array(z.array(z.string().regex(/^\d+$/)).min(1)),
  memMiB: z.number().int().positive(),
  disks: z.array(
    z.object({
      name: z.string().regex(/^[A-Za-z0-9_.-]+$/),
      device: z.string().regex(/^\d+:\d+$/),
      sizeMiB: z.number().int().nonnegative(),
    }),
  ),
});
export type HostTopologyReport = z.infer<typeof HostTopologyReport>;

export const AgentHeartbeat = z.object({
  schemaVersion: SchemaVersion,
  host: HostName,
  at: EpochMillis,
  agentVersion: z.string(),
  cgroupVersion: z.enum(['v1', 'v2']),
  containers: z.array(ContainerName),
  /**
   * The agent's heartbeat period (SC_AGENT_HEARTBEAT_S): the sanity sweep calls it silent only after
   * max(HEARTBEAT_TIMEOUT, two periods), so a timeout set below the period cannot mark a live host.
   */
  periodS: z.number().positive().optional(),
  /** What the agent found at start (older readers ignore it: the heartbeat is read tolerantly). */
  topology: HostTopologyReport.optional(),
});
export type AgentHeartbeat = z.infer<typeof AgentHeartbeat>;
