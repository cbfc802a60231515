/**
 * Monthly AWS cost of the control loop, from counted requests. Pure: no SDK,
 * no clock, no I/O. The benchmark feeds it counters measured by running ticks;
 * docs/cost.md feeds it written-down assumptions and says so.
 *
 * Shape of the bill (us-east-1, on-demand, free tiers ignored — they are per
 * account, not per fleet):
 *   DynamoDB  read request units (4 KB, eventual = ½) and write request units (1 KB)
 *   SQS FIFO  requests, each 64 KB of payload counted as one request
 *   Lambda    requests + GB-seconds of billed duration at the configured memory
 *   Scheduler EventBridge invocations of the scheduled functions
 *   Logs      CloudWatch Logs ingestion (storage is negligible at 30-day retention)
 * The metrics store (BDWatchdog/OpenTSDB) runs on the operator's own machines and
 * is not in this bill.
 */

/**
 * Public on-demand prices, us-east-1, written down on 2026-11-28 from the
 * pages named in docs/cost.md (keep the two in step).
 */
export const PRICES = {
  takenOn: '2026-11-28',
  region: 'us-east-1',
  dynamoReadRequestUnitUsd: 0.125 / 1e6,
  dynamoWriteRequestUnitUsd: 0.625 / 1e6,
  sqsFifoRequestUsd: 0.5 / 1e6,
  sqsStandardRequestUsd: 0.4 / 1e6,
  lambdaRequestUsd: 0.2 / 1e6,
  lambdaGbSecondUsd: { arm64: 0.0000133334, x86_64: 0.0000166667 },
  schedulerInvocationUsd: 1.0 / 1e6,
  logsIngestGbUsd: 0.5,
} as const;
export type Prices = typeof PRICES;

/** AWS bills a month as 730 hours. */
export const SECONDS_PER_MONTH = 730 * 3600;

export const DYNAMO_READ_UNIT_BYTES = 4096;
export const DYNAMO_WRITE_UNIT_BYTES = 1024;
export const SQS_CHUNK_BYTES = 64 * 1024;

/** RRU of one GetItem, or of one Query page whose items total `bytes` (the sum is rounded, not each item). */
export function readUnits(bytes: number, consistency: 'strong' | 'eventual'): number {
  const units = Math.max(1, Math.ceil(bytes / DYNAMO_READ_UNIT_BYTES));
  return consistency === 'strong' ? units : units / 2;
}

/** WRU of one standard PutItem/UpdateItem/DeleteItem of an item of `bytes` (the larger of old and new). */
export function writeUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / DYNAMO_WRITE_UNIT_BYTES));
}

/** Billable SQS requests of one API call carrying `payloadBytes` in total. */
export function sqsRequests(payloadBytes: number): number {
  return Math.max(1, Math.ceil(payloadBytes / SQS_CHUNK_BYTES));
}

/** One scheduled function as deployed. */
export interface FunctionUsage {
  name: string;
  memoryMiB: number;
  arch: 'arm64' | 'x86_64';
  invocationsPerMonth: number;
  /** Billed duration of one invocation, seconds (includes time spent waiting between inner ticks). */
  billedSecondsPerInvocation: number;
  /** Invocations started by EventBridge (0 when another source, e.g. SQS, starts them). */
  scheduledPerMonth: number;
}

/**
 * Counted requests. `perContainerTick` are measured totals ÷ guarded containers
 * ÷ ticks; `perTick` does not grow with the fleet (rules, configs, host list);
 * `perHostMonth` is what each host's agent costs (long polls, heartbeats; when
 * measured, also its receives, deletes, reports and reconciliation reads).
 * Written-down designs put an order's receive and delete in `perContainerTick`,
 * the fleet measurement puts them with the agent that makes them.
 */
export interface LoopCounts {
  perContainerTick: { readUnits: number; writeUnits: number; sqsRequests: number; logBytes: number };
  perTick: { readUnits: number; writeUnits: number; logBytes: number };
  /** What each host's agent costs: long polls, heartbeats, reports, reconciliation reads. */
  perHostMonth: { sqsRequests: number; writeUnits: number; readUnits?: number; logBytes: number };
  functions: readonly FunctionUsage[];
  /**
   * Requests on the standard queue that clocks the control tick (chained clock only):
   * sends, the event source mapping's polls and deletes. Fixed whatever the fleet.
   */
  clockQueueRequestsPerMonth?: number;
}

export interface Fleet {
  containers: number;
  containersPerHost: number;
  tickSeconds: number;
}

export interface CostLine {
  service: 'DynamoDB' | 'SQS' | 'Lambda' | 'EventBridge' | 'CloudWatch Logs';
  item: string;
  quantityPerMonth: number;
  unit: string;
  usdPerMonth: number;
}

export interface CostEstimate {
  fleet: Fleet;
  hosts: number;
  ticksPerMonth: number;
  lines: CostLine[];
  totalUsdPerMonth: number;
  /** totalUsdPerMonth ÷ containers × 1000 */
  usdPer1000ContainersPerMonth: number;
}

function check(cond: boolean, field: string, rule: string): void {
  if (!cond) throw new RangeError(`cost model: ${field} ${rule}`);
}

export function estimateMonthlyCost(counts: LoopCounts, fleet: Fleet, prices: Prices = PRICES): CostEstimate {
  check(
    Number.isInteger(fleet.containers) && fleet.containers > 0,
    'fleet.containers',
    'must be a positive integer',
  );
  check(fleet.containersPerHost > 0, 'fleet.containersPerHost', 'must be positive');
  check(fleet.tickSeconds > 0, 'fleet.tickSeconds', 'must be positive');
  const ticksPerMonth = SECONDS_PER_MONTH / fleet.tickSeconds;
  const hosts = Math.ceil(fleet.containers / fleet.containersPerHost);
  const containerTicks = fleet.containers * ticksPerMonth;
  const c = counts.perContainerTick;

  const rru = c.readUnits * containerTicks + counts.perTick.readUnits * ticksPerMonth;
  const rruHosts = (counts.perHostMonth.readUnits ?? 0) * hosts;
  const wruTicks = c.writeUnits * containerTicks + counts.perTick.writeUnits * ticksPerMonth;
  const wruHosts = counts.perHostMonth.writeUnits * hosts;
  const sqsOrders = c.sqsRequests * containerTicks;
  const sqsPolls = counts.perHostMonth.sqsRequests * hosts;
  const logBytes =
    c.logBytes * containerTicks +
    counts.perTick.logBytes * ticksPerMonth +
    counts.perHostMonth.logBytes * hosts;

  const lines: CostLine[] = [
    line('DynamoDB', 'read request units (state reads)', rru, 'RRU', prices.dynamoReadRequestUnitUsd),
    line('DynamoDB', 'read request units (agents)', rruHosts, 'RRU', prices.dynamoReadRequestUnitUsd),
    line(
      'DynamoDB',
      'write request units (ticks, plans, reports)',
      wruTicks,
      'WRU',
      prices.dynamoWriteRequestUnitUsd,
    ),
    line(
      'DynamoDB',
      'write request units (agents: heartbeats, reports)',
      wruHosts,
      'WRU',
      prices.dynamoWriteRequestUnitUsd,
    ),
    line('SQS', 'FIFO requests (orders: per container)', sqsOrders, 'requests', prices.sqsFifoRequestUsd),
    line(
      'SQS',
      'FIFO requests (agents: long polls, receives, deletes)',
      sqsPolls,
      'requests',
      prices.sqsFifoRequestUsd,
    ),
  ];
  if (counts.clockQueueRequestsPerMonth !== undefined)
    lines.push(
      line(
        'SQS',
        'standard requests (control-tick clock queue)',
        counts.clockQueueRequestsPerMonth,
        'requests',
        prices.sqsStandardRequestUsd,
      ),
    );
  for (const f of counts.functions) {
    const gbSeconds = f.invocationsPerMonth * f.billedSecondsPerInvocation * (f.memoryMiB / 1024);
    lines.push(
      line('Lambda', `${f.name}: requests`, f.invocationsPerMonth, 'requests', prices.lambdaRequestUsd),
    );
    lines.push(
      line(
        'Lambda',
        `${f.name}: duration at ${f.memoryMiB} MiB ${f.arch}`,
        gbSeconds,
        'GB-s',
        prices.lambdaGbSecondUsd[f.arch],
      ),
    );
    if (f.scheduledPerMonth > 0) {
      lines.push(
        line(
          'EventBridge',
          `${f.name}: scheduled invocations`,
          f.scheduledPerMonth,
          'invocations',
          prices.schedulerInvocationUsd,
        ),
      );
    }
  }
  lines.push(line('CloudWatch Logs', 'ingestion', logBytes / 1e9, 'GB', prices.logsIngestGbUsd));

  const totalUsdPerMonth = lines.reduce((s, l) => s + l.usdPerMonth, 0);
  return {
    fleet,
    hosts,
    ticksPerMonth,
    lines,
    totalUsdPerMonth,
    usdPer1000ContainersPerMonth: (totalUsdPerMonth / fleet.containers) * 1000,
  };
}

function line(
  service: CostLine['service'],
  item: string,
  quantityPerMonth: number,
  unit: string,
  unitPriceUsd: number,
): CostLine {
  check(
    Number.isFinite(quantityPerMonth) && quantityPerMonth >= 0,
    `${service} ${item}`,
    'must be a finite count ≥ 0',
  );
  return { service, item, quantityPerMonth, unit, usdPerMonth: quantityPerMonth * unitPriceUsd };
}

/**
 * Turns counters measured over `ticks` ticks of a fleet of `containers` into
 * per-container-tick and per-tick counts (the part of LoopCounts a run measures).
 * `fixedPerTick` are the requests every tick makes whatever the fleet size
 * (subtracted before dividing by the containers).
 */
export interface RunCounters {
  ticks: number;
  containers: number;
  readUnits: number;
  writeUnits: number;
  sqsRequests: number;
  logBytes: number;
  fixedPerTick: { readUnits: number; writeUnits: number; logBytes: number };
}

export function countsFromRun(run: RunCounters): Pick<LoopCounts, 'perContainerTick' | 'perTick'> {
  check(run.ticks > 0, 'run.ticks', 'must be positive');
  check(run.containers > 0, 'run.containers', 'must be positive');
  const perCt = (total: number, fixed: number) =>
    Math.max(0, total - fixed * run.ticks) / run.ticks / run.containers;
  return {
    perContainerTick: {
      readUnits: perCt(run.readUnits, run.fixedPerTick.readUnits),
      writeUnits: perCt(run.writeUnits, run.fixedPerTick.writeUnits),
      sqsRequests: perCt(run.sqsRequests, 0),
      logBytes: perCt(run.logBytes, run.fixedPerTick.logBytes),
    },
    perTick: { ...run.fixedPerTick },
  };
}
