import { z } from 'zod';
import { Resource } from './units.ts';

/**
 * Service configs kept in state and hot-reloaded every tick. Keys keep the
 * original framework's UPPER_CASE names so its operators' scripts read the
 * same. Every default lives here, once.
 *
 * Defaults differ from the original framework's code defaults where those
 * cannot work: its WINDOW_DELAY 10 s / EVENT_TIMEOUT 40 s make the default
 * down rules (6 and 8 events) unreachable, and cost ≥ 30 s of reaction. Ours
 * read 5 s windows 2 s behind real time (BDWatchdog flushes every 0.2 s since
 * 2025) and keep events 60 s, so every default rule can fire (8 × 5 s ≤ 60 s).
 */
const seconds = (min: number, max: number) => z.number().int().min(min).max(max);
/** A list naming each value once: a repeated resource would be evaluated (or balanced) twice a round. */
const distinct = { message: 'must not name a value twice' };
const isDistinct = (list: readonly unknown[]): boolean => new Set(list).size === list.length;

const DEFAULT_APP_SLICE = { cpu: 5, mem: 32, disk_read: 5, disk_write: 5, net: 5 } as const satisfies Record<
  Resource,
  number
>;

export const GuardianConfig = z.strictObject({
  ACTIVE: z.boolean().default(true).describe('Run the Guardian (rule evaluation) on each tick.'),
  WINDOW_TIMELAPSE: seconds(1, 300)
    .default(5)
    .describe('Length of the usage window and period of the ticks, seconds.'),
  WINDOW_DELAY: seconds(0, 300)
    .default(2)
    .describe('How far behind now the window ends, seconds (metrics pipeline latency).'),
  EVENT_TIMEOUT: seconds(5, 3600)
    .default(60)
    .describe('Events older than this, seconds, no longer count towards a request rule.'),
  GUARDABLE_RESOURCES: z
    .array(Resource)
    .min(1)
    .refine(isDistinct, distinct)
    .default(['cpu', 'mem'])
    .describe('Resources the Guardian evaluates rules for.'),
  STRUCTURE_GUARDED: z
    .enum(['container', 'application'])
    .default('container')
    .describe('Which structures are guarded: containers, or applications as a whole.'),
  SCALE_UP_FIT: z
    .boolean()
    .default(true)
    .describe(
      "Up rules with the 'amount' policy, when usage is visible below the allocation (more than half a margin under current) and was above lower in the previous window too (a level): request the fit_to_usage amount (usage mid-band) instead of the rule's amount, so the step does not put usage under the new lower and bring a scale-down back. Usage that rose from under lower (an onset: a load started mid-window) steps as at its allocation (SCALE_UP_GROWTH), never less than the fit.",
    ),
  SCALE_UP_GROWTH: z
    .number()
    .min(0)
    .max(4)
    .default(1)
    .describe(
      "Up rules with the 'amount' policy, when usage is at the allocation (within half a margin of current, its demand unseen): the step is at least this fraction of current (1 = double), never less than the rule's amount; 0 = the rule's amount alone.",
    ),
  SCALE_DOWN_MIN: z
    .number()
    .min(0)
    .max(4)
    .default(1)
    .describe(
      'A scale-down that would free less than this fraction of the margin (upper − lower) is not worth an order: a window whose usage is under lower by less is not a down event, and such a request is not made. fit_to_usage downs free more than half a margin by construction; 1 = scale down when usage is under current − 2.5 margins; 0 = every window under lower, as the original.',
    ),
  DRY_RUN: z.boolean().default(false).describe('Record decisions without requesting anything.'),
  SHARD_CONTAINERS: z
    .number()
    .int()
    .min(100)
    .max(1_000_000)
    .default(4_000)
    .describe(
      'Target number of guarded containers per shard of the control tick: the fleet is split into ceil(containers / this) shards by host (at most SHARDS_MAX), each with its own clock chain and lease. docs/shards.md says how to size it.',
    ),
  SHARDS_MAX: z
    .number()
    .int()
    .min(1)
    .max(256)
    .default(1)
    .describe(
      'Most shards the control tick is split into; 1 = one chain decides every container (no shard record is read). A change of the shard count takes effect at a window boundary without a redeploy (docs/shards.md).',
    ),
});
export type GuardianConfig = z.infer<typeof GuardianConfig>;

export const ScalerConfig = z.strictObject({
  ACTIVE: z
    .boolean()
    .default(true)
    .describe('Run the Scaler (planning and dispatch of orders) on each tick.'),
  REQUEST_TIMEOUT: seconds(1, 3600)
    .default(30)
    .describe('Scale requests older than this, seconds, are dropped.'),
  ORDER_TTL: seconds(5, 3600)
    .default(120)
    .describe(
      'Orders expire this many seconds after issue; the agent drops expired orders (reconciliation repairs).',
    ),
  MEM_SAFETY_MARGIN_MIB: z
    .number()
    .int()
    .min(0)
    .max(65536)
    .default(64)
    .describe('Memory is never ordered below usage plus this margin, MiB.'),
  APP_SLICE: z
    .partialRecord(Resource, z.number().int().positive())
    .default(DEFAULT_APP_SLICE)
    // A map naming some resources keeps the others' defaults (the planner fell back to 5 for all).
    .transform((given) => ({ ...DEFAULT_APP_SLICE, ...given }))
    .describe('Slice size per resource (in its unit) when spreading application requests over containers.'),
  DRY_RUN: z.boolean().default(false).describe('Plan without committing state or sending orders.'),
});
export type ScalerConfig = z.infer<typeof ScalerConfig>;

export const RebalancerConfig = z.strictObject({
  ACTIVE: z.boolean().default(false).describe('Run the ReBalancer sweep.'),
  WINDOW_TIMELAPSE: seconds(1, 3600)
    .default(30)
    .describe('Length of the usage window the ReBalancer reads, seconds.'),
  WINDOW_DELAY: seconds(0, 300)
    .default(2)
    .describe("How far behind now the ReBalancer's window ends, seconds."),
  DIFF_PERCENTAGE: z
    .number()
    .min(0)
    .max(1)
    .default(0.4)
    .describe(
      'Threshold fraction that splits peers into donors and receivers (e.g. a container receives when current − usage < this × current).',
    ),
  STOLEN_PERCENTAGE: z
    .number()
    .min(0)
    .max(1)
    .default(0.4)
    .describe(
      "Fraction of a donor's spare allocation (current − max(min, usage)) given away in one rebalance.",
    ),
  RESOURCES_BALANCED: z
    .array(Resource)
    .min(1, { message: 'names nothing to balance (set ACTIVE false to stop the ReBalancer)' })
    .refine(isDistinct, distinct)
    .default(['cpu'])
    .describe('Resources the ReBalancer moves between peers.'),
  STRUCTURES_BALANCED: z
    .array(z.enum(['container', 'application']))
    .min(1, { message: 'names nothing to balance (set ACTIVE false to stop the ReBalancer)' })
    .refine(isDistinct, distinct)
    .default(['container'])
    .describe('Structure kinds the ReBalancer balances.'),
  CONTAINERS_SCOPE: z
    .enum(['application', 'host'])
    .default('application')
    .describe('Peers are the containers of one application, or of one host.'),
  BALANCING_METHOD: z
    .enum(['pair_swapping', 'weights'])
    .default('pair_swapping')
    .describe('Pair swapping (donor → receiver pairs) or weights (shares in proportion to weight).'),
  // The original framework's two other ReBalancer options, accepted at the one value this
  // ReBalancer implements so that its configs carry over, refused otherwise with the reason.
  BALANCING_POLICY: z
    .literal('thresholds', {
      error:
        "only 'thresholds' (donors and receivers picked by DIFF_PERCENTAGE): the original's 'rules' policy looked up rules named <level>_<res>_usage_low|high that it never shipped, so it balanced nothing",
    })
    .default('thresholds')
    .describe(
      "How donors and receivers are picked: 'thresholds' (DIFF_PERCENTAGE), the only policy; the original's 'rules' is refused.",
    ),
  COMPENSATE: z
    .literal(false, {
      error:
        'only false: compensation (past receivers pay back past donors) needs a credit ledger kept across periods, which this ReBalancer does not keep; its hysteresis already stops a donor from taking its donation straight back',
    })
    .default(false)
    .describe('The original’s compensation ledger; only false (refused when true, with the reason).'),
});
export type RebalancerConfig = z.infer<typeof RebalancerConfig>;

export const SnapshoterConfig = z.strictObject({
  ACTIVE: z
    .boolean()
    .default(true)
    .describe(
      'Run the Database Snapshoter (state → time series): applications, users and service configs, and hosts and containers (which the control tick also publishes every tick).',
    ),
  POLLING_FREQUENCY: seconds(1, 3600)
    .default(60)
    .describe(
      'Seconds between two snapshots; 60 or more is one snapshot per scheduled invocation, less keeps the invocation waiting between rounds (billed, docs/cost.md).',
    ),
});
export type SnapshoterConfig = z.infer<typeof SnapshoterConfig>;

export const SanityConfig = z.strictObject({
  ACTIVE: z.boolean().default(true).describe('Run the Sanity Checker sweep.'),
  POLLING_FREQUENCY: seconds(1, 3600)
    .default(60)
    .describe(
      'Seconds between two sweeps; 60 or more is one sweep per scheduled invocation, less keeps the invocation waiting between rounds (billed, docs/cost.md).',
    ),
  RESEND_AFTER: seconds(1, 3600)
    .default(20)
    .describe('Re-send an order when desired is ahead of applied for longer than this, seconds.'),
  HEARTBEAT_TIMEOUT: seconds(5, 3600)
    .default(180)
    .describe(
      'An agent silent for longer than this, seconds (no heartbeat and no report: either proves it alive), marks its host degraded (three of the agent’s default 60 s heartbeat periods). An agent that announces its period is given at least two of them.',
    ),
  DEAD_LETTER_PERIOD: seconds(60, 86_400)
    .default(300)
    .describe(
      'Seconds between two counts of the orders waiting on the hosts’ dead-letter queues (the OrdersDeadLettered metric and its alarm): the sweep that crosses a multiple of it counts, one SQS request per host (at 60 s, ≈ $1.10 a month for 50 hosts; at 300 s a fifth of that).',
    ),
});
export type SanityConfig = z.infer<typeof SanityConfig>;

export const SERVICE_CONFIGS = {
  guardian: GuardianConfig,
  scaler: ScalerConfig,
  rebalancer: RebalancerConfig,
  snapshoter: SnapshoterConfig,
  sanity: SanityConfig,
} as const;
export type ServiceName = keyof typeof SERVICE_CONFIGS;
export const ServiceName = z.enum(Object.keys(SERVICE_CONFIGS) as [ServiceName, ...ServiceName[]]);

export type ServiceConfigOf<S extends ServiceName> = z.infer<(typeof SERVICE_CONFIGS)[S]>;

/** A service's stored document: its config plus the heartbeat of its last tick. */
export const ServiceDoc = z.strictObject({
  name: ServiceName,
  config: z.record(z.string(), z.unknown()),
  heartbeat: z.number().int().nonnegative().nullable().default(null),
  version: z.number().int().nonnegative().default(0),
});
export type ServiceDoc = z.infer<typeof ServiceDoc>;

export function defaultConfig<S extends ServiceName>(service: S): ServiceConfigOf<S> {
  return SERVICE_CONFIGS[service].parse({}) as ServiceConfigOf<S>;
}
