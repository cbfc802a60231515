/**
 * The host agent's configuration: parsed once from the environment against a
 * strict schema (unknown SC_AGENT_* variables are refused), frozen, with every
 * default here and the cross-field rules checked here.
 */
import { z } from 'zod';
import { readEnvConfig } from '../adapters/env.ts';
import { HostName } from '../core/contracts/names.ts';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const AgentEnv = z
  .strictObject({
    /** This host's name, as in its HostState item. */
    SC_AGENT_HOST: HostName,
    /** The state table. */
    SC_TABLE_NAME: z.string().min(3).default('sc-state'),
    /** The host's queue URL; else HostState.queueUrl, else looked up by name. */
    SC_AGENT_QUEUE_URL: z.string().url().optional(),
    SC_QUEUE_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_-]{0,40}$/)
      .default('sc-'),
    /** Root of the cgroup filesystem (injectable for tests). */
    SC_AGENT_CGROUP_ROOT: z.string().startsWith('/').default('/sys/fs/cgroup'),
    /** 'auto' detects v1/v2 from the root at start. */
    SC_AGENT_CGROUP_VERSION: z.enum(['auto', 'v1', 'v2']).default('auto'),
    /** LXC's container directory (configs, rootfs). */
    SC_AGENT_LXC_PATH: z.string().startsWith('/').default('/var/lib/lxc'),
    /** Mount target inside the container whose backing device disk limits apply to. */
    SC_AGENT_DISK_BIND_TARGET: z
      .string()
      .regex(/^[A-Za-z0-9_./-]+$/)
      .default('opt/bind'),
    SC_AGENT_CPU_PERIOD_US: int(1000, 1_000_000).default(100_000),
    SC_AGENT_WAIT_TIME_S: int(0, 20).default(20),
    SC_AGENT_VISIBILITY_TIMEOUT_S: int(1, 43_200).default(30),
    /** Extend the visibility of a message being applied this often. */
    SC_AGENT_VISIBILITY_HEARTBEAT_S: int(1, 43_000).default(10),
    /** Retry delay for an order whose container is not (yet) on this host; DLQ after the queue's maxReceiveCount. */
    SC_AGENT_UNKNOWN_RETRY_S: int(0, 900).default(5),
    SC_AGENT_BACKOFF_MIN_MS: int(1, 60_000).default(200),
    SC_AGENT_BACKOFF_MAX_MS: int(1, 600_000).default(20_000),
    SC_AGENT_RECONCILE_S: int(1, 86_400).default(30),
    SC_AGENT_HEARTBEAT_S: int(1, 3600).default(15),
    /** Memory fast path: poll period of the OOM/pressure signals, ms (0 disables). */
    SC_AGENT_MEM_WATCH_MS: int(0, 10_000).default(100),
    /** Memory fast path: raise by this percentage of the current limit … */
    SC_AGENT_MEM_RAISE_PCT: int(1, 400).default(25),
    /** … and by at least this many MiB. */
    SC_AGENT_MEM_RAISE_MIN_MIB: int(1, 1_048_576).default(64),
    /** Usage publisher: OpenTSDB-compatible base URL (…/api/put); unset = off. */
    SC_AGENT_PUBLISH_URL: z.string().url().optional(),
    SC_AGENT_PUBLISH_S: int(1, 3600).default(5),
    SC_AGENT_DRY_RUN: flag.default(false),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .superRefine((c, ctx) => {
    if (c.SC_AGENT_VISIBILITY_TIMEOUT_S <= c.SC_AGENT_VISIBILITY_HEARTBEAT_S) {
      ctx.addIssue({
        code: 'custom',
        path: ['SC_AGENT_VISIBILITY_TIMEOUT_S'],
        message: 'must be longer than SC_AGENT_VISIBILITY_HEARTBEAT_S',
      });
    }
    if (c.SC_AGENT_BACKOFF_MAX_MS < c.SC_AGENT_BACKOFF_MIN_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['SC_AGENT_BACKOFF_MAX_MS'],
        message: 'must be ≥ SC_AGENT_BACKOFF_MIN_MS',
      });
    }
  });
export type AgentEnv = z.infer<typeof AgentEnv>;

/** The agent's settings, named by meaning and unit. */
export interface AgentConfig {
  host: string;
  tableName: string;
  queueUrl: string | null;
  queuePrefix: string;
  cgroupRoot: string;
  cgroupVersion: 'auto' | 'v1' | 'v2';
  lxcPath: string;
  diskBindTarget: string;
  cpuPeriodUs: number;
  waitTimeS: number;
  visibilityTimeoutS: number;
  visibilityHeartbeatMs: number;
  unknownRetryS: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  reconcileMs: number;
  heartbeatMs: number;
  memWatchMs: number;
  memRaisePct: number;
  memRaiseMinMiB: number;
  publishUrl: string | null;
  publishMs: number;
  dryRun: boolean;
  logLevel: string;
}

export function loadAgentConfig(env: Record<string, string | undefined>): Readonly<AgentConfig> {
  const e = readEnvConfig(AgentEnv, env, 'host-agent config', { ownPrefix: 'SC_AGENT_' });
  return Object.freeze({
    host: e.SC_AGENT_HOST,
    tableName: e.SC_TABLE_NAME,
    queueUrl: e.SC_AGENT_QUEUE_URL ?? null,
    queuePrefix: e.SC_QUEUE_PREFIX,
    cgroupRoot: e.SC_AGENT_CGROUP_ROOT,
    cgroupVersion: e.SC_AGENT_CGROUP_VERSION,
    lxcPath: e.SC_AGENT_LXC_PATH,
    diskBindTarget: e.SC_AGENT_DISK_BIND_TARGET.replace(/^\/+/, ''),
    cpuPeriodUs: e.SC_AGENT_CPU_PERIOD_US,
    waitTimeS: e.SC_AGENT_WAIT_TIME_S,
    visibilityTimeoutS: e.SC_AGENT_VISIBILITY_TIMEOUT_S,
    visibilityHeartbeatMs: e.SC_AGENT_VISIBILITY_HEARTBEAT_S * 1000,
    unknownRetryS: e.SC_AGENT_UNKNOWN_RETRY_S,
    backoffMinMs: e.SC_AGENT_BACKOFF_MIN_MS,
    backoffMaxMs: e.SC_AGENT_BACKOFF_MAX_MS,
    reconcileMs: e.SC_AGENT_RECONCILE_S * 1000,
    heartbeatMs: e.SC_AGENT_HEARTBEAT_S * 1000,
    memWatchMs: e.SC_AGENT_MEM_WATCH_MS,
    memRaisePct: e.SC_AGENT_MEM_RAISE_PCT,
    memRaiseMinMiB: e.SC_AGENT_MEM_RAISE_MIN_MIB,
    publishUrl: e.SC_AGENT_PUBLISH_URL ?? null,
    publishMs: e.SC_AGENT_PUBLISH_S * 1000,
    dryRun: e.SC_AGENT_DRY_RUN,
    logLevel: e.LOG_LEVEL,
  });
}
