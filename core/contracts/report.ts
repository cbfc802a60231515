import { z } from 'zod';
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
});
export type AgentHeartbeat = z.infer<typeof AgentHeartbeat>;
