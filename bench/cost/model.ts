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
 *   Logs      CloudWatch Logs ingestion and storage (the functions' own lines, EMF metrics,
 *             Lambda's START/END/REPORT lines; each event + 26 bytes)
 * and, when `platform` is given (PlatformUsage, the deployment around the loop):
 *   Lambda    INIT duration of cold starts (billed since 2025-08-01)
 *   CloudWatch custom metrics (EMF), alarms (per metric), dashboards
 *   X-Ray     traces recorded (active tracing)
 *   KMS       the state table's key (AWS managed key: DynamoDB's Decrypt per caller every 5 min)
 *   API Gateway HTTP API requests (operator traffic) and the API function
 *   Network   data transfer out to the metrics store; in a VPC, NAT gateways or interface
 *             endpoints (hours + per GB) and the Site-to-Site VPN connection
 * The metrics store (BDWatchdog/OpenTSDB) itself runs on the operator's own machines and
 * is not in this bill; what reaching it costs is.
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
  // The rest written down 2026-12-07 (us-east-1, first tier; the AWS pages could not be fetched
  // from this machine, so each is from a page quoting them — check before quoting):
  // CloudWatch Logs storage $0.03 per GB-month (hivebook.wiki "CloudWatch Logs cost", factualminds.com
  // "Amazon CloudWatch pricing", June 2026). Billed on the archived (compressed) size: the model
  // counts the uncompressed bytes, an upper bound.
  logsStorageGbMonthUsd: 0.03,
  // Custom metrics $0.30 per metric-month (each namespace + name + dimensions), alarms $0.10 per
  // standard-resolution metric alarmed on (a metric-math alarm counts each metric it reads),
  // dashboards $3 each per month (signoz.io "CloudWatch pricing", Feb 2026; factualminds.com, June 2026).
  cloudwatchMetricMonthUsd: 0.3,
  cloudwatchAlarmMetricMonthUsd: 0.1,
  cloudwatchDashboardMonthUsd: 3,
  // X-Ray: $5.00 per million traces recorded (aws.amazon.com/xray/pricing, its de and cn editions;
  // awsnegotiations.com: the default rule records the first request each second and 5 % beyond).
  xrayTraceUsd: 5 / 1e6,
  // KMS: $0.03 per 10,000 requests; AWS managed keys have no monthly fee but their requests are
  // charged, customer managed keys $1 a month (aws.amazon.com/kms/pricing, wring.co March 2026).
  kmsRequestUsd: 0.03 / 10_000,
  kmsCustomerKeyMonthUsd: 1,
  // API Gateway HTTP APIs: $1.00 per million requests (first 300 M) (apigatewaycost.com,
  // awsforengineers.com May 2025, amnic.com citing the AWS page).
  apiGatewayHttpRequestUsd: 1 / 1e6,
  // Data transfer out of the region to the internet (or over a Site-to-Site VPN): $0.09 per GB
  // (first 10 TB; vuink.com mirror of the alterNAT notes, cloudpipelines.pages.dev 2026).
  dataTransferOutGbUsd: 0.09,
  // NAT gateway: $0.045 per hour and $0.045 per GB processed, both directions (basavytix.com,
  // costpatrol.io, cloudburn.io Feb 2026). Interface endpoints: $0.01 per hour per AZ and $0.01 per
  // GB (same pages). Gateway endpoints (DynamoDB, S3): free. Site-to-Site VPN: $0.05 per connection-hour.
  natGatewayHourUsd: 0.045,
  natGatewayGbUsd: 0.045,
  interfaceEndpointHourUsd: 0.01,
  interfaceEndpointGbUsd: 0.01,
  vpnConnectionHourUsd: 0.05,
} as const;
export type Prices = typeof PRICES;

/** AWS bills a month as 730 hours. */
export const SECONDS_PER_MONTH = 730 * 3600;

export const DYNAMO_READ_UNIT_BYTES = 4096;
export const DYNAMO_WRITE_UNIT_BYTES = 1024;
export const SQS_CHUNK_BYTES = 64 * 1024;
/** Hours in the month AWS bills. */
export const HOURS_PER_MONTH = 730;
/** CloudWatch Logs counts each event as its UTF-8 message plus 26 bytes (PutLogEvents' size rule). */
export const LOG_EVENT_OVERHEAD_BYTES = 26;
/** DynamoDB asks KMS for a table key once every 5 minutes per caller with active traffic (AWS managed or customer key). */
export const KMS_TABLE_KEY_REFRESH_S = 300;

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
  /**
   * CloudWatch Logs of one invocation: bytes and events (lines) the function writes (its logger, EMF
   * metrics) plus Lambda's START/END/REPORT lines (lambdaPlatformLog). Absent: not counted.
   */
  log?: { bytes: number; events: number };
  /** Cold starts: new execution environments a month and the INIT duration of each, s (billed like duration). */
  coldStarts?: { perMonth: number; initSeconds: number };
}

/**
 * Lambda's own lines for one invocation, in its text log format: START, END and REPORT (with the
 * X-Ray line when traced, Init Duration on a cold start). Built from the format, not measured.
 */
export function lambdaPlatformLog(o: { memoryMiB: number; traced: boolean; coldStart: boolean }): {
  bytes: number;
  events: number;
} {
  const id = '8f5d3c2a-1b4e-4f6a-9c7d-0e1f2a3b4c5d';
  const report =
    `REPORT RequestId: ${id}\tDuration: 123.45 ms\tBilled Duration: 124 ms\tMemory Size: ${o.memoryMiB} MB\tMax Memory Used: 112 MB\t` +
    (o.coldStart ? 'Init Duration: 345.67 ms\t' : '') +
    (o.traced
      ? '\nXRAY TraceId: 1-67a1b2c3-4d5e6f708192a3b4c5d6e7f8\tSegmentId: 1a2b3c4d5e6f7a8b\tSampled: true\t'
      : '');
  const lines = [`START RequestId: ${id} Version: $LATEST`, `END RequestId: ${id}`, report];
  return { bytes: lines.reduce((n, l) => n + Buffer.byteLength(l), 0), events: lines.length };
}

/**
 * How the functions reach the metrics store, and what that adds:
 * - 'public': functions outside a VPC; the metrics store behind an authenticated HTTPS front
 *   (README "Deploy"): data transfer in from the internet is free, out is billed;
 * - 'vpc-nat': functions in private subnets over `azs` zones, one NAT gateway per zone for SQS
 *   (DynamoDB through a free gateway endpoint), the metrics store over a Site-to-Site VPN;
 * - 'vpc-endpoints': the same with an SQS interface endpoint in each zone instead of NAT gateways.
 * (Lambda delivers logs, EMF and X-Ray segments itself: they need no path out of the VPC.)
 */
export type NetworkPath =
  | { kind: 'public' }
  | { kind: 'vpc-nat'; azs: number }
  | { kind: 'vpc-endpoints'; azs: number; endpoints: number };

/** The deployment around the loop (serverless.yml and the operator's use), per month. */
export interface PlatformUsage {
  logRetentionDays: number;
  /** HTTP bytes the functions send to (request bodies and headers) and receive from the metrics store. */
  metricsStore: { sentBytesPerMonth: number; receivedBytesPerMonth: number };
  /** HTTP bytes the functions exchange with SQS (through the NAT or the endpoint in a VPC), both ways. */
  sqsBytesPerMonth: number;
  /** HTTP bytes SQS and DynamoDB send back to the agents (hosts outside AWS: data transfer out). */
  agentsReceivedBytesPerMonth: number;
  /** Operator requests to the HTTP API (each also an invocation of the api function, in `functions`). */
  apiRequestsPerMonth: number;
  /** The state table's key: `callers` are the principals with steady traffic (one role per function, one per host). */
  tableKey: { kind: 'aws-owned' | 'aws-managed' | 'customer-managed'; callers: number };
  /** Distinct EMF metrics (namespace + name + dimensions), metrics read by alarms, dashboards. */
  customMetrics: number;
  alarmMetrics: number;
  dashboards: number;
  /** Invocations traced by X-Ray (active tracing samples the first each second and 5 % beyond). */
  tracesPerMonth: number;
  network: NetworkPath;
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
  /** The deployment around the loop (logs storage, metrics, traces, KMS, API, network); absent: not priced. */
  platform?: PlatformUsage;
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
  service:
    | 'DynamoDB'
    | 'SQS'
    | 'Lambda'
    | 'EventBridge'
    | 'CloudWatch Logs'
    | 'CloudWatch'
    | 'X-Ray'
    | 'KMS'
    | 'API Gateway'
    | 'Network';
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
    if (f.coldStarts !== undefined)
      lines.push(
        line(
          'Lambda',
          `${f.name}: INIT of ${Math.round(f.coldStarts.perMonth)} cold starts`,
          f.coldStarts.perMonth * f.coldStarts.initSeconds * (f.memoryMiB / 1024),
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
  const fnLogBytes = functionLogBytes(counts.functions);
  if (counts.functions.some((f) => f.log !== undefined))
    lines.push(
      line(
        'CloudWatch Logs',
        'ingestion (functions: their lines, EMF, START/END/REPORT; + 26 B an event)',
        fnLogBytes / 1e9,
        'GB',
        prices.logsIngestGbUsd,
      ),
    );
  if (counts.platform !== undefined)
    lines.push(...platformLines(counts.platform, (logBytes + fnLogBytes) / 1e9, prices));

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

/** CloudWatch Logs bytes of the functions a month: each invocation's bytes + 26 per event. */
export function functionLogBytes(functions: readonly FunctionUsage[]): number {
  return functions.reduce(
    (n, f) =>
      n +
      (f.log === undefined
        ? 0
        : f.invocationsPerMonth * (f.log.bytes + f.log.events * LOG_EVENT_OVERHEAD_BYTES)),
    0,
  );
}

/** The lines of the deployment around the loop. `logGbPerMonth`: all ingested logs (for storage). */
export function platformLines(p: PlatformUsage, logGbPerMonth: number, prices: Prices = PRICES): CostLine[] {
  check(p.logRetentionDays > 0, 'platform.logRetentionDays', 'must be positive');
  const daysPerMonth = HOURS_PER_MONTH / 24;
  const out: CostLine[] = [
    // Steady state: the log groups hold `retention` days of ingestion.
    line(
      'CloudWatch Logs',
      `storage (${p.logRetentionDays}-day retention, uncompressed: an upper bound)`,
      logGbPerMonth * (p.logRetentionDays / daysPerMonth),
      'GB-month',
      prices.logsStorageGbMonthUsd,
    ),
    line('CloudWatch', 'custom metrics (EMF)', p.customMetrics, 'metrics', prices.cloudwatchMetricMonthUsd),
    line(
      'CloudWatch',
      'alarms (per metric read)',
      p.alarmMetrics,
      'alarm metrics',
      prices.cloudwatchAlarmMetricMonthUsd,
    ),
    line('CloudWatch', 'dashboards', p.dashboards, 'dashboards', prices.cloudwatchDashboardMonthUsd),
    line('X-Ray', 'traces recorded', p.tracesPerMonth, 'traces', prices.xrayTraceUsd),
    line(
      'API Gateway',
      'HTTP API requests (operator)',
      p.apiRequestsPerMonth,
      'requests',
      prices.apiGatewayHttpRequestUsd,
    ),
  ];
  const k = p.tableKey;
  if (k.kind === 'aws-owned')
    out.push(line('KMS', 'state table: AWS owned key (no charge)', 0, 'requests', prices.kmsRequestUsd));
  else {
    const decrypts = k.callers * ((HOURS_PER_MONTH * 3600) / KMS_TABLE_KEY_REFRESH_S);
    out.push(
      line(
        'KMS',
        `state table (${k.kind} key): Decrypt per caller every 5 min`,
        decrypts,
        'requests',
        prices.kmsRequestUsd,
      ),
    );
    if (k.kind === 'customer-managed')
      out.push(line('KMS', 'customer managed key', 1, 'keys', prices.kmsCustomerKeyMonthUsd));
  }
  const sentGb = p.metricsStore.sentBytesPerMonth / 1e9;
  out.push(
    line('Network', 'data transfer out to the metrics store', sentGb, 'GB', prices.dataTransferOutGbUsd),
  );
  out.push(
    line(
      'Network',
      'data transfer out to the hosts (responses to the agents)',
      p.agentsReceivedBytesPerMonth / 1e9,
      'GB',
      prices.dataTransferOutGbUsd,
    ),
  );
  const n = p.network;
  if (n.kind !== 'public') {
    check(n.azs > 0, 'platform.network.azs', 'must be positive');
    out.push(
      line(
        'Network',
        'Site-to-Site VPN to the metrics store',
        HOURS_PER_MONTH,
        'connection-hours',
        prices.vpnConnectionHourUsd,
      ),
    );
  }
  if (n.kind === 'vpc-nat') {
    out.push(
      line(
        'Network',
        `NAT gateways (${n.azs})`,
        n.azs * HOURS_PER_MONTH,
        'gateway-hours',
        prices.natGatewayHourUsd,
      ),
      line(
        'Network',
        'NAT processing (functions ↔ SQS)',
        p.sqsBytesPerMonth / 1e9,
        'GB',
        prices.natGatewayGbUsd,
      ),
    );
  }
  if (n.kind === 'vpc-endpoints') {
    out.push(
      line(
        'Network',
        `interface endpoints (${n.endpoints} × ${n.azs} zones)`,
        n.endpoints * n.azs * HOURS_PER_MONTH,
        'endpoint-hours',
        prices.interfaceEndpointHourUsd,
      ),
      line(
        'Network',
        'interface endpoint processing (functions ↔ SQS)',
        p.sqsBytesPerMonth / 1e9,
        'GB',
        prices.interfaceEndpointGbUsd,
      ),
    );
  }
  return out;
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
