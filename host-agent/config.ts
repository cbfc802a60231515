/**
 * The host agent's configuration: parsed once from the environment against a
 * strict schema (unknown SC_AGENT_* variables are refused), frozen, with every
 * default here and the cross-field rules checked here.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { readEnvConfig } from '../adapters/env.ts';
import { PlatformEnv } from '../adapters/platform-env.ts';
import { HostName } from '../core/contracts/names.ts';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const AgentEnv = PlatformEnv.extend({
  SC_AGENT_HOST: HostName.describe('This host’s name, as in its HostState item (required).'),
  SC_AGENT_QUEUE_URL: z
    .string()
    .url()
    .optional()
    .describe('The host’s order queue; else HostState.queueUrl, else looked up by name.'),
  SC_AGENT_CGROUP_ROOT: z
    .string()
    .startsWith('/')
    .default('/sys/fs/cgroup')
    .describe('Root of the cgroup filesystem (injectable for tests).'),
  SC_AGENT_CGROUP_VERSION: z
    .enum(['auto', 'v1', 'v2'])
    .default('auto')
    .describe('cgroup layout; auto detects v1/v2 at start.'),
  SC_AGENT_LXC_PATH: z
    .string()
    .startsWith('/')
    .default('/var/lib/lxc')
    .describe('LXC’s container directory.'),
  SC_AGENT_DISK_BIND_TARGET: z
    .string()
    .regex(/^[A-Za-z0-9_./-]+$/)
    .default('opt/bind')
    .describe('Mount target in the container whose backing device disk limits apply to (else the rootfs).'),
  SC_AGENT_CPU_PERIOD_US: int(1000, 1_000_000).default(100_000).describe('CFS period, µs.'),
  SC_AGENT_WAIT_TIME_S: int(0, 20).default(20).describe('SQS long-poll wait, s.'),
  SC_AGENT_VISIBILITY_TIMEOUT_S: int(1, 43_200)
    .default(3)
    .describe(
      'Visibility of a received order, s; must exceed the heartbeat. Short: an order taken by a receive whose agent died (or whose connection dropped) holds its container for this long.',
    ),
  SC_AGENT_VISIBILITY_HEARTBEAT_S: int(1, 43_000)
    .default(1)
    .describe('Extend the visibility of an order being applied this often, s.'),
  SC_AGENT_UNKNOWN_RETRY_S: int(0, 900)
    .default(5)
    .describe(
      'Retry delay of an order for a container not on this host, s (DLQ after the queue’s max receives).',
    ),
  SC_AGENT_BACKOFF_MIN_MS: int(1, 60_000)
    .default(200)
    .describe('First backoff on network/credential errors, ms.'),
  SC_AGENT_BACKOFF_MAX_MS: int(1, 600_000).default(20_000).describe('Longest backoff, ms.'),
  SC_AGENT_RECONCILE_S: int(1, 86_400).default(30).describe('Reconciliation period, s.'),
  SC_AGENT_HEARTBEAT_S: int(1, 3600)
    .default(60)
    .describe(
      'Longest time without a sign of life, s: a heartbeat (AGENT item) is written one period after the last heartbeat or landed report (reports count as signs of life for the sanity sweep), so a busy agent rarely writes one. The heartbeat announces it: the sanity sweep calls the agent silent after max(HEARTBEAT_TIMEOUT, two periods). Keep it under a third of HEARTBEAT_TIMEOUT (each beat is a DynamoDB write: docs/cost.md).',
    ),
  SC_AGENT_MEM_WATCH_MS: int(0, 10_000)
    .default(100)
    .describe('Memory fast path: poll period of OOM/pressure signals, ms (0 = off).'),
  SC_AGENT_MEM_RAISE_PCT: int(1, 400)
    .default(25)
    .describe('Memory fast path: raise by this % of the current limit…'),
  SC_AGENT_MEM_RAISE_MIN_MIB: int(1, 1_048_576).default(64).describe('…and by at least this many MiB.'),
  SC_AGENT_OOM_LEASE: z
    .string()
    .regex(/^\/[A-Za-z0-9_./-]+$/, 'an absolute path')
    .or(z.literal('off'))
    .default('/run/sc-host-agent/oom-lease')
    .describe(
      'OOM guard: the lease file the agent renews while it may keep the OOM killer off (a stall waits for the memory fast path instead); the watchdog (sc-oom-watchdog.service) re-arms the killer when it expires. `off`: no guard, the killer stays as the kernel has it.',
    ),
  SC_AGENT_OOM_LEASE_S: int(1, 60)
    .default(3)
    .describe(
      'OOM guard: lease length, s (renewed every third of it; the watchdog re-arms within it plus 0.5 s of an agent gone).',
    ),
  SC_AGENT_PUBLISH_URL: z
    .string()
    .url()
    .optional()
    .describe('Usage publisher: OpenTSDB-compatible base URL (/api/put); unset = off.'),
  SC_AGENT_PUBLISH_USAGE: flag
    .default(true)
    .describe(
      "Publisher: put BDWatchdog's proc.* usage series too (true), or only the agent's own `sc.agent.cpu` series (false: hosts where BDWatchdog sends the usage; the series tells an idle container from a missing one, core/policy/idle-evidence.ts).",
    ),
  SC_AGENT_PUBLISH_S: z.coerce
    .number()
    .min(0.2)
    .max(3600)
    .default(5)
    .describe(
      'Usage publisher period, s (decimals allowed, ≥ 0.2 s: BDWatchdog itself flushes every 0.2 s).',
    ),
  SC_AGENT_DRY_RUN: flag.default(false).describe('Plan and log writes without applying them.'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('Log level.'),
})
  .strict()
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
  publishUsage: boolean;
  oomLeasePath: string | null;
  oomLeaseMs: number;
  dryRun: boolean;
  logLevel: string;
}

export function loadAgentConfig(env: Record<string, string | undefined>): Readonly<AgentConfig> {
  const e = readEnvConfig(AgentEnv, env, 'host-agent config', { ownPrefix: 'SC_AGENT_' });
  return Object.freeze({
    host: e.SC_AGENT_HOST,
    tableName: e.SC_TABLE,
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
    publishMs: Math.round(e.SC_AGENT_PUBLISH_S * 1000),
    publishUsage: e.SC_AGENT_PUBLISH_USAGE,
    oomLeasePath: e.SC_AGENT_OOM_LEASE === 'off' ? null : e.SC_AGENT_OOM_LEASE,
    oomLeaseMs: e.SC_AGENT_OOM_LEASE_S * 1000,
    dryRun: e.SC_AGENT_DRY_RUN,
    logLevel: e.LOG_LEVEL,
  });
}

/** The settings table of host-agent/README.md, generated from the schema. */
export function settingsMarkdown(): string {
  const rows = Object.entries(AgentEnv.shape).map(([key, schema]) => {
    const def = (schema as z.ZodType).safeParse(undefined);
    const shown = def.success && def.data !== undefined ? `\`${String(def.data)}\`` : '—';
    return `| \`${key}\` | ${shown} | ${(schema as z.ZodType).description ?? ''} |`;
  });
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

// `npx node host-agent/config.ts --doc` prints the table (not the bundle, whose import.meta.url is its own).
if (
  import.meta.url.endsWith('/config.ts') &&
  process.argv[1] !== undefined &&
  resolve(process.argv[1]) === fileURLToPath(import.meta.url)
) {
  process.stdout.write(`${settingsMarkdown()}\n`);
}
