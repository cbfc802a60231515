/**
 * The whole control loop on one machine, composed from the deployable parts:
 *
 *   local platform (dynalite or DynamoDB Local + fauxqs) and VictoriaMetrics on 127.0.0.1
 *   → the HTTP API (bearer token) — this machine registered as a host through it
 *   → the host agent for this machine (in-process), its usage publisher putting
 *     BDWatchdog-named series to VictoriaMetrics' OpenTSDB /api/put
 *   → the control-tick function under the local scheduler (rate 1 minute,
 *     70 s timeout, ticking every WINDOW_TIMELAPSE inside one invocation, as on AWS),
 *     reading usage back through the Prometheus adapter, planning with the Scaler,
 *     queueing orders on the host's FIFO queue
 *   → the dashboard server.
 *
 * Containers are subscribed and guarded through the API (`guard`); demo
 * containers (LXC busybox with the phased workload) are created when asked.
 * `stop()` (or aborting `signal`) stops everything and removes what was created.
 *
 *   const loop = await startLoop({ config: 'tuned', signal, log: console.log });
 *   await loop.guard(container); … await loop.stop();
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { createDynamoDocumentClient, createSqsClient } from '../adapters/aws.ts';
import { systemClock } from '../adapters/clock.ts';
import { Catalog } from '../adapters/dynamodb/catalog.ts';
import { readServiceConfig } from '../adapters/dynamodb/fleet.ts';
import { TableClient } from '../adapters/dynamodb/table-client.ts';
import { createLogger, type Logger } from '../adapters/logger.ts';
import { OpenTsdbPutSink } from '../adapters/metrics/opentsdb-put.ts';
import { PrometheusMetricsSource } from '../adapters/metrics/prometheus.ts';
import type { Rule } from '../core/contracts/rule.ts';
import { defaultConfig, type GuardianConfig } from '../core/contracts/service-config.ts';
import { ASSUMED_FLEET } from '../core/cost/assumptions.ts';
import { type LoopCounts, SECONDS_PER_MONTH } from '../core/cost/model.ts';
import { DEFAULT_RULES } from '../core/policy/default-rules.ts';
import { ruleFindings } from '../core/policy/sanity.ts';
import { usageWindow } from '../core/ports/metrics-source.ts';
import { type ContainerView, dashboardView, prometheusSeries } from '../dashboard/read-model.ts';
import { type DashboardServer, startDashboardServer } from '../dashboard/server.ts';
import { startPlatformApi } from '../functions/api/local-server.ts';
import { newChainState, sqsTriggerQueue } from '../functions/guardian/chain.ts';
import { runTick } from '../functions/guardian/tick.ts';
import {
  buildControlTick,
  type ControlTickWiring,
  clockWatchdog,
  handleClockEvent,
  invokeControlTick,
} from '../functions/guardian/wiring.ts';
import { runPeriodically } from '../functions/ops/periodic.ts';
import { resendWith } from '../functions/ops/resend.ts';
import { sanitySweep } from '../functions/ops/sanity.ts';
import { snapshotTick } from '../functions/ops/snapshot.ts';
import { sqsOrderSender } from '../functions/scaler/sqs-order-sender.ts';
import { HostAgent } from '../host-agent/agent.ts';
import { LiteTable } from '../host-agent/aws/dynamo.ts';
import { LiteSqs } from '../host-agent/aws/sqs.ts';
import { loadAgentConfig } from '../host-agent/config.ts';
import { tcShaper } from '../host-agent/net/tc.ts';
import { DynamoAgentState } from '../host-agent/state.ts';
import {
  createLxcWorkload,
  createPlainCgroupWorkload,
  detectHostSupport,
  type HostSupport,
  readDemoLimits,
  type WorkloadContainer,
} from './containers.ts';
import type { DynamoFlavour } from './emulators.ts';
import { type LocalPlatform, startLocalPlatform } from './platform.ts';
import { type RunningSchedule, startQueueTrigger, startSchedule } from './scheduler.ts';
import { thisHostName, thisHostRegistration } from './topology.ts';

export type LoopConfigName = 'default' | 'tuned';

/** What a named config changes from the stored defaults. */
export interface LoopConfig {
  guardian: Partial<GuardianConfig>;
  /** Rule fields changed by name (e.g. fewer events before a request). */
  rules: Record<string, Partial<Rule>>;
  /** Usage publisher period, ms (BDWatchdog itself flushes every 0.2 s). */
  publishMs: number;
  /** Control-tick settings (functions/guardian/wiring.ts) changed from the deployed defaults. */
  tickEnv?: Record<string, string>;
}

export const LOOP_CONFIGS: Record<LoopConfigName, LoopConfig> = {
  // The shipped service configs and rules, as stored by the bootstrap.
  default: { guardian: {}, rules: {}, publishMs: 1000 },
  // Short windows, usage published every 0.2 s (as BDWatchdog flushes), read 1 s behind real
  // time: points carry their sample's instant in ms and VictoriaMetrics shows a point ≈ 1.0 s
  // after the put, so the window (now − 2 s, now − 1 s] is complete when the tick reads it.
  // (With whole-second stamps the delay had to be 2 s.) Up rules as shipped (one event);
  // three down events instead of six, four instead of eight for memory.
  tuned: {
    guardian: { WINDOW_TIMELAPSE: 1, WINDOW_DELAY: 1, EVENT_TIMEOUT: 20 },
    rules: {
      CpuRescaleDown: { events_to_remove: 3, rule: downRule('cpu', 3) },
      MemRescaleDown: { events_to_remove: 4, rule: downRule('mem', 4) },
    },
    publishMs: 200,
    // Every tick on its window boundary: the whole-second clock delay is always rounded down and
    // the tick sleeps the rest (≈ 0.5 s billed a tick on average; the default rounds to nearest).
    tickEnv: { SC_CLOCK_MAX_WAIT_MS: '1000' },
  },
};

function downRule(_res: string, need: number): Rule['rule'] {
  return {
    and: [{ '>=': [{ var: 'events.scale.down' }, need] }, { '<=': [{ var: 'events.scale.up' }, 0] }],
  };
}

/** A container's resources at subscription (shares, MiB). */
export interface GuardSpec {
  cpu: { min: number; current: number; max: number };
  mem: { min: number; current: number; max: number };
}

export const DEMO_SPEC: GuardSpec = {
  cpu: { min: 25, current: 50, max: 200 },
  mem: { min: 64, current: 128, max: 1024 },
};

/** How long the local loop's control tick holds activity lines before writing them, s. */
export const LOCAL_ACTIVITY_HOLD_S = 5;

/** The control tick as deployed (serverless.yml `controlTick`): schedule, timeout, memory, clock. */
export const CONTROL_TICK = {
  rate: 'rate(1 minute)',
  timeoutMs: 70_000,
  memoryMiB: 512,
  /** serverless.yml `custom.controlClock`: SC_CONTROL_CLOCK, default 'queue'. */
  clock: (): 'invocation' | 'queue' =>
    process.env.SC_CONTROL_CLOCK === 'invocation' ? 'invocation' : 'queue',
} as const;
/** The sweeps as deployed (serverless.yml `snapshoter`, `sanity`). */
export const SWEEP = { rate: 'rate(1 minute)', timeoutMs: 55_000 } as const;

export interface LoopCounters {
  ticks: number;
  containers: number;
  readUnits: number;
  writeUnits: number;
  sqsRequests: number;
  logBytes: number;
  fixedPerTick: { readUnits: number; writeUnits: number; logBytes: number };
  deployment: Pick<LoopCounts, 'perHostMonth' | 'functions'>;
  containersPerHost: number;
  tickSeconds: number;
}

export interface StatusRow {
  container: string;
  cpu: { usage: number | null; current: number | null; applied: number | null; max: number | null };
  mem: { usage: number | null; current: number | null; applied: number | null; max: number | null };
  lastDecision: string | null;
}

export interface RunningLoop {
  readonly config: LoopConfigName;
  readonly platform: LocalPlatform;
  readonly host: string;
  readonly api: { url: string; token: string };
  readonly dashboardUrl: string | null;
  readonly support: HostSupport;
  readonly logFile: string;
  readonly demo: readonly WorkloadContainer[];
  /** Subscribe a container (already created) through the API and wait until its initial limits are applied. */
  guard(container: { name: string; cgroupPath: string }, spec?: GuardSpec): Promise<void>;
  /** Create and guard demo containers with the phased workload (LXC, else plain cgroups). */
  addDemoContainers(count: number): Promise<WorkloadContainer[]>;
  /** One call to the API with the loop's token. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  status(): Promise<StatusRow[]>;
  counters(): LoopCounters;
  stop(): Promise<void>;
}

export interface LoopOptions {
  config: LoopConfigName;
  signal: AbortSignal;
  dynamo?: DynamoFlavour;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Bearer token of the API; default SC_API_TOKEN, else generated. */
  apiToken?: string;
  /** Start the dashboard server (default true). */
  dashboard?: boolean;
  /** Where the components' JSON logs go (default a file in the temp dir). */
  logFile?: string;
  tableName?: string;
  queuePrefix?: string;
}

/** A writable that counts bytes and forwards them (the control tick's log volume, for the cost figure). */
class CountingStream extends Writable {
  bytes = 0;
  private readonly sink: WriteStream;
  constructor(sink: WriteStream) {
    super();
    this.sink = sink;
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.bytes += chunk.length;
    this.sink.write(chunk, cb);
  }
}

const LOCAL = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
const MINUTES_PER_MONTH = SECONDS_PER_MONTH / 60;

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null>,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (signal.aborted) throw new Error(`${what}: aborted`);
    if (Date.now() > until) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await systemClock.sleep(100, signal).catch(() => undefined);
  }
}

export async function startLoop(opts: LoopOptions): Promise<RunningLoop> {
  const say = opts.log ?? (() => undefined);
  const chosen = LOOP_CONFIGS[opts.config];
  const logFile = opts.logFile ?? join(tmpdir(), `sc-loop-${process.pid}-${Date.now()}.log`);
  const logSink = createWriteStream(logFile, { flags: 'a' });
  const tickLogStream = new CountingStream(logSink);
  const logger = (component: string, stream: NodeJS.WritableStream = logSink): Logger =>
    createLogger(component, { destination: stream });

  const stops: { what: string; stop: () => Promise<void> }[] = [];
  const demo: WorkloadContainer[] = [];
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const errors: string[] = [];
      for (const s of stops.reverse()) {
        try {
          await s.stop();
        } catch (err) {
          errors.push(`${s.what}: ${(err as Error).message}`);
        }
      }
      // The control tick's counting stream may still hold lines on their way to the log file.
      await new Promise<void>((r) => tickLogStream.end(r));
      await new Promise<void>((r) => logSink.end(r));
      if (errors.length > 0) throw new Error(`some parts did not stop cleanly: ${errors.join('; ')}`);
    })();
    return stopping;
  };
  const onAbort = () => void stop().catch(() => undefined);
  opts.signal.addEventListener('abort', onAbort, { once: true });

  try {
    const support = await detectHostSupport();
    say(`host support: ${support.mode} — ${support.reason}`);

    const platform = await startLocalPlatform({
      dynamo: opts.dynamo ?? 'dynalite',
      tsdb: true,
      log: say,
      ...(opts.tableName === undefined ? {} : { tableName: opts.tableName }),
      ...(opts.queuePrefix === undefined ? {} : { queuePrefix: opts.queuePrefix }),
    });
    stops.push({ what: 'platform', stop: platform.stop });
    const promUrl = platform.endpoints.prometheus as string;
    const opentsdbUrl = platform.endpoints.opentsdb as string;

    const doc = createDynamoDocumentClient({ endpoint: platform.endpoints.dynamodb, ...LOCAL });
    const sqs = createSqsClient({ endpoint: platform.endpoints.sqs, ...LOCAL });
    stops.push({
      what: 'clients',
      stop: async () => {
        doc.destroy();
        sqs.destroy();
      },
    });
    const table = new TableClient(doc, platform.tableName);

    // The named config, stored as an operator would (hot-reloaded by the tick).
    const catalog = new Catalog(table);
    if (Object.keys(chosen.guardian).length > 0) {
      const current = await catalog.getService('guardian');
      await catalog.putServiceConfig(
        'guardian',
        { ...(current?.config ?? {}), ...chosen.guardian },
        { expectedVersion: current?.version ?? null },
      );
    }
    for (const [name, change] of Object.entries(chosen.rules)) {
      const stored = await catalog.getRule(name);
      const base = stored?.rule ?? DEFAULT_RULES.find((r) => r.name === name);
      if (base === undefined) throw new Error(`config ${opts.config}: no rule ${name}`);
      await catalog.putRule({ ...base, ...change }, { expectedVersion: stored?.version ?? null });
    }
    say(
      `service config: ${opts.config}${opts.config === 'default' ? ' (as bootstrapped)' : ` (${JSON.stringify(chosen.guardian)})`}`,
    );

    // The API, with a token: nothing is served open.
    const token = opts.apiToken ?? process.env.SC_API_TOKEN ?? randomBytes(18).toString('base64url');
    const api = await startPlatformApi({
      dynamodbEndpoint: platform.endpoints.dynamodb,
      sqsEndpoint: platform.endpoints.sqs,
      tableName: platform.tableName,
      queuePrefix: platform.queuePrefix,
      token,
      logger: logger('api'),
    });
    stops.push({ what: 'api', stop: api.stop });
    say(`API         ${api.url}`);
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${api.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text === '' ? null : (JSON.parse(text) as unknown) };
    };

    // This machine as a host, through the API (creates HostState and the order queue + DLQ).
    const host = thisHostName();
    const registration = thisHostRegistration();
    const reg = await call('PUT', `/hosts/${host}`, registration);
    if (reg.status !== 201 && reg.status !== 200)
      throw new Error(`registering host ${host}: ${reg.status} ${JSON.stringify(reg.body)}`);
    say(
      `host        ${host} registered: ${registration.cpu.topology.length} CPUs (${registration.cpu.topology.length * 100} shares), ${registration.memMiB} MiB`,
    );

    // The host agent for this machine, in-process, publishing usage to VictoriaMetrics.
    const agentConfig = loadAgentConfig({
      SC_AGENT_HOST: host,
      SC_TABLE: platform.tableName,
      SC_QUEUE_PREFIX: platform.queuePrefix,
      SC_AGENT_PUBLISH_URL: opentsdbUrl,
      SC_AGENT_PUBLISH_S: String(chosen.publishMs / 1000),
      SC_AGENT_WAIT_TIME_S: '20',
      SC_AGENT_RECONCILE_S: '10',
      SC_AGENT_UNKNOWN_RETRY_S: '1',
      SC_AGENT_DRY_RUN: support.mode === 'dry-run' ? 'true' : 'false',
      LOG_LEVEL: 'info',
    });
    // The agent's own small AWS clients, as deployed (host-agent/aws/), not the SDK.
    const agentCredentials = async () => LOCAL.credentials;
    const agentTable = new LiteTable(platform.tableName, {
      endpoint: platform.endpoints.dynamodb,
      region: LOCAL.region,
      credentials: agentCredentials,
      requestTimeoutMs: 5000,
    });
    const agentSqs = new LiteSqs({
      endpoint: platform.endpoints.sqs,
      region: LOCAL.region,
      credentials: agentCredentials,
      requestTimeoutMs: (agentConfig.waitTimeS + 10) * 1000,
    });
    const agent = new HostAgent({
      config: agentConfig,
      sqs: agentSqs,
      store: new DynamoAgentState(agentTable, host),
      shaper: tcShaper(),
      clock: systemClock,
      log: logger('host-agent'),
    });
    await agent.start();
    stops.push({
      what: 'host agent',
      stop: async () => {
        await agent.stop();
      },
    });
    say(
      `host agent  started${agentConfig.dryRun ? ' in DRY-RUN (limits are not written)' : ''}; usage → ${opentsdbUrl}/api/put every ${chosen.publishMs / 1000} s`,
    );

    // The control tick, built from its own env schema, reading usage through the Prometheus API,
    // clocked as deployed (serverless.yml SC_CONTROL_CLOCK, default 'queue': a clock queue on fauxqs).
    const tickSqs = createSqsClient({ endpoint: platform.endpoints.sqs, ...LOCAL });
    const clockMode = CONTROL_TICK.clock();
    const clockQueueUrl =
      clockMode === 'queue'
        ? (
            await tickSqs.send(
              new CreateQueueCommand({ QueueName: `${platform.env.SC_QUEUE_PREFIX ?? 'sc-'}control-clock` }),
            )
          ).QueueUrl
        : undefined;
    const wiring: ControlTickWiring = buildControlTick(
      {
        ...platform.env,
        SC_METRICS_BACKEND: 'prometheus',
        SC_METRICS_URL: promUrl,
        SC_OPENTSDB_URL: opentsdbUrl,
        SC_CONTROL_CLOCK: clockMode,
        ...(clockQueueUrl === undefined ? {} : { SC_CLOCK_QUEUE_URL: clockQueueUrl }),
        // The demo's dashboard shows events and orders within seconds; deployed, lines are held
        // up to 60 s and packed per host (fewer write units). SC_ACTIVITY_HOLD_S overrides.
        SC_ACTIVITY_HOLD_S: process.env.SC_ACTIVITY_HOLD_S ?? String(LOCAL_ACTIVITY_HOLD_S),
        ...chosen.tickEnv,
      },
      {
        dynamo: createDynamoDocumentClient({ endpoint: platform.endpoints.dynamodb, ...LOCAL }),
        sqs: tickSqs,
        logger: createLogger('control-tick', { destination: tickLogStream }),
      },
    );
    // Calibration: one tick with no container guarded measures what every tick costs whatever the fleet.
    const before = { ...wiring.table.counters, log: tickLogStream.bytes };
    await runTick(
      { table: wiring.table, metrics: wiring.metrics, sink: wiring.sink, logger: wiring.logger },
      Date.now(),
    );
    const fixedPerTick = {
      readUnits: wiring.table.counters.readUnits - before.readUnits,
      writeUnits: wiring.table.counters.writeUnits - before.writeUnits,
      logBytes: tickLogStream.bytes - before.log,
    };
    const base = { ...wiring.table.counters, log: tickLogStream.bytes, orders: wiring.sent.orders };

    // Counted at the end of each invocation, so ticks and requests always match.
    const done = { ticks: 0, readUnits: 0, writeUnits: 0, orders: 0, logBytes: 0, containerTicks: 0 };
    const invocationMs: number[] = [];
    let guardedNow = 0;
    const tickAbort = new AbortController();
    const record = (ticks: number, structures: number, ms: number) => {
      if (ticks > 0) invocationMs.push(ms);
      done.ticks += ticks;
      done.containerTicks += structures;
      done.readUnits = wiring.table.counters.readUnits - base.readUnits;
      done.writeUnits = wiring.table.counters.writeUnits - base.writeUnits;
      done.orders = wiring.sent.orders - base.orders;
      done.logBytes = tickLogStream.bytes - base.log;
    };
    const schedules: RunningSchedule[] = [];
    if (clockMode === 'invocation') {
      schedules.push(
        startSchedule({
          name: 'controlTick',
          rate: CONTROL_TICK.rate,
          timeoutMs: CONTROL_TICK.timeoutMs,
          memoryMiB: CONTROL_TICK.memoryMiB,
          allowOverlap: true, // as EventBridge: the next invocation waits for the lease and takes over
          signal: tickAbort.signal,
          logger: wiring.logger,
          handler: async (_event, context) => {
            const started = Date.now();
            const r = await invokeControlTick(wiring, context, tickAbort.signal);
            record(
              r.ticks,
              r.reports.reduce((n, t) => n + t.structures, 0),
              Date.now() - started,
            );
            return { ticks: r.ticks, stopped: r.stopped };
          },
        }),
      );
    } else {
      // The clock queue's event source mapping (one tick per message) and the watchdog schedule.
      const chain = newChainState();
      const proc = randomBytes(8).toString('hex');
      schedules.push(
        startQueueTrigger({
          name: 'controlTick',
          queue: sqsTriggerQueue(tickSqs, clockQueueUrl as string),
          timeoutMs: CONTROL_TICK.timeoutMs,
          memoryMiB: CONTROL_TICK.memoryMiB,
          signal: tickAbort.signal,
          logger: wiring.logger,
          handler: async (event) => {
            const started = Date.now();
            const out = await handleClockEvent(wiring, chain, proc, event);
            const ran = out.filter((o) => o.ran);
            record(
              ran.length,
              ran.reduce((n, o) => n + (o.ran ? (o.report?.structures ?? 0) : 0), 0),
              Date.now() - started,
            );
            return { ticks: ran.length };
          },
        }),
        startSchedule({
          name: 'controlTick',
          rate: CONTROL_TICK.rate,
          timeoutMs: CONTROL_TICK.timeoutMs,
          memoryMiB: CONTROL_TICK.memoryMiB,
          signal: tickAbort.signal,
          logger: wiring.logger,
          handler: () => clockWatchdog(wiring),
        }),
      );
    }
    stops.push({
      what: 'control tick',
      stop: async () => {
        tickAbort.abort();
        await Promise.all(schedules.map((s) => s.done));
        tickSqs.destroy();
      },
    });
    const tickConfig = { ...defaultConfig('guardian'), ...chosen.guardian };
    const usageReader = new PrometheusMetricsSource({ url: promUrl });
    say(
      clockMode === 'invocation'
        ? `control tick scheduled ${CONTROL_TICK.rate}, ticking every ${tickConfig.WINDOW_TIMELAPSE} s inside each invocation (Guardian → Scaler → SQS)`
        : `control tick clocked by a delay queue, one tick every ${tickConfig.WINDOW_TIMELAPSE} s per message; watchdog ${CONTROL_TICK.rate} (Guardian → Scaler → SQS)`,
    );

    // The sweeps as deployed: the snapshoter (the whole fleet → time series once a minute; the
    // dashboard's current/upper/lower history comes from the control tick's snapshot every tick)
    // and the sanity sweep (drift, dead agents, re-send), each under its own schedule and lease. (The ReBalancer is off by default and not scheduled here.)
    const opsTable = new TableClient(doc, platform.tableName);
    const sweeps: {
      name: string;
      log: Logger;
      schedule: () => Promise<{ active: boolean; periodMs: number }>;
      run: (log: Logger) => Promise<unknown>;
    }[] = [
      {
        name: 'snapshoter',
        log: logger('snapshoter'),
        schedule: async () => {
          const c = await readServiceConfig(opsTable, 'snapshoter');
          return { active: c.ACTIVE, periodMs: c.POLLING_FREQUENCY * 1000 };
        },
        run: (log: Logger) =>
          snapshotTick({
            table: opsTable,
            metrics: usageReader,
            sink: new OpenTsdbPutSink(opentsdbUrl),
            clock: systemClock,
            logger: log,
          }),
      },
      {
        name: 'sanity',
        log: logger('sanity'),
        schedule: async () => {
          const c = await readServiceConfig(opsTable, 'sanity');
          return { active: c.ACTIVE, periodMs: c.POLLING_FREQUENCY * 1000 };
        },
        run: (log: Logger) =>
          sanitySweep({
            table: opsTable,
            clock: systemClock,
            logger: log,
            checkRules: ruleFindings,
            resend: resendWith(sqsOrderSender(sqs), log),
          }),
      },
    ];
    for (const sweep of sweeps) {
      const running = startSchedule({
        name: sweep.name,
        rate: SWEEP.rate,
        timeoutMs: SWEEP.timeoutMs,
        signal: tickAbort.signal,
        logger: sweep.log,
        handler: (_event, context) =>
          runPeriodically({
            name: sweep.name,
            owner: context.awsRequestId,
            table: opsTable,
            clock: systemClock,
            logger: sweep.log,
            remainingMs: () => context.getRemainingTimeInMillis(),
            schedule: sweep.schedule,
            run: () => sweep.run(sweep.log),
            signal: tickAbort.signal,
          }),
      });
      stops.push({
        what: sweep.name,
        stop: async () => {
          tickAbort.abort();
          await running.done;
        },
      });
    }
    say('sweeps      snapshoter and sanity sweep scheduled rate(1 minute)');

    let dashboard: DashboardServer | null = null;
    const series = prometheusSeries(promUrl);
    if (opts.dashboard !== false) {
      dashboard = await startDashboardServer({ deps: { state: table, series } });
      stops.push({ what: 'dashboard', stop: () => (dashboard as DashboardServer).close() });
      say(`dashboard   ${dashboard.url}`);
    }

    const paths = new Map<string, string>();

    const guard = async (container: { name: string; cgroupPath: string }, spec: GuardSpec = DEMO_SPEC) => {
      paths.set(container.name, container.cgroupPath);
      // The API refuses a max above the host's total: on a one-CPU machine the demo's 200 shares are 100.
      const within = (r: { min: number; current: number; max: number }, total: number) => ({
        min: Math.min(r.min, total),
        current: Math.min(r.current, total),
        max: Math.min(r.max, total),
      });
      const res = await call('PUT', `/containers/${container.name}`, {
        host,
        resources: {
          cpu: { ...within(spec.cpu, registration.cpu.topology.length * 100), guard: true },
          mem: { ...within(spec.mem, registration.memMiB), guard: true },
        },
        guard: true,
      });
      if (res.status !== 201 && res.status !== 200)
        throw new Error(`subscribing ${container.name}: ${res.status} ${JSON.stringify(res.body)}`);
      await agent.rescan(); // the publisher and the memory watch see it at once
      guardedNow += 1;
      // The agent drives LXC containers only: elsewhere nothing is applied or published to wait for.
      if (agentConfig.dryRun || support.mode !== 'lxc') return;
      const wantQuota = Math.round((spec.cpu.current * agentConfig.cpuPeriodUs) / 100);
      // A new series takes VictoriaMetrics several seconds to index: return once the Guardian can see it.
      const window = { ...tickConfig };
      await waitFor(
        `usage of ${container.name} in the metrics store`,
        async () => {
          const u = await usageReader.usage({
            kind: 'container',
            structures: [container.name],
            resources: ['cpu', 'mem'],
            window: usageWindow(Date.now(), window.WINDOW_TIMELAPSE, window.WINDOW_DELAY),
          });
          const row = u.usage.get(container.name);
          return row?.cpu !== null && row?.cpu !== undefined && row.mem !== null && row.mem !== undefined
            ? true
            : null;
        },
        60_000,
        opts.signal,
      );
      await waitFor(
        `initial limits of ${container.name}`,
        async () => ((await readDemoLimits(container.cgroupPath)).quotaUs === wantQuota ? true : null),
        30_000,
        opts.signal,
      );
    };

    const addDemoContainers = async (count: number): Promise<WorkloadContainer[]> => {
      const made: WorkloadContainer[] = [];
      if (support.mode === 'dry-run') {
        say(`container   none created: ${support.reason}`);
        return made;
      }
      for (let i = 1; i <= count; i++) {
        const name = `sc-demo${i}-${process.pid}`;
        say(`container   creating ${name} (${support.mode === 'lxc' ? 'LXC busybox' : 'plain cgroup'})`);
        const c =
          support.mode === 'lxc' ? await createLxcWorkload(name) : await createPlainCgroupWorkload(name);
        demo.push(c);
        made.push(c);
        stops.push({
          what: `container ${name}`,
          stop: async () => {
            await call('DELETE', `/containers/${name}`).catch(() => undefined);
            await c.remove();
          },
        });
        await guard(c);
        say(
          `container   ${name} subscribed and guarded (cpu ${DEMO_SPEC.cpu.current} shares, mem ${DEMO_SPEC.mem.current} MiB)`,
        );
      }
      return made;
    };

    const status = async (): Promise<StatusRow[]> => {
      const now = Date.now();
      const view = await dashboardView(
        { state: table, series },
        { fromMs: now - 30_000, toMs: now, stepS: 1 },
      );
      const rows: StatusRow[] = [];
      const containers: ContainerView[] = view.hosts.flatMap((h) => h.containers);
      for (const c of containers) {
        const path = paths.get(c.name);
        const held = path === undefined ? null : await readDemoLimits(path);
        const quota = held?.quotaUs ?? null;
        const memLimit = held?.memBytes ?? null;
        rows.push({
          container: c.name,
          cpu: {
            usage: c.plots.cpu.now.usage,
            current: c.plots.cpu.now.current,
            applied: quota === null || quota < 0 ? null : (quota / agentConfig.cpuPeriodUs) * 100,
            max: c.plots.cpu.now.max,
          },
          mem: {
            usage: c.plots.mem.now.usage,
            current: c.plots.mem.now.current,
            applied: memLimit === null ? null : memLimit / 2 ** 20,
            max: c.plots.mem.now.max,
          },
          lastDecision: c.lastDecision,
        });
      }
      return rows;
    };

    const counters = (): LoopCounters => {
      const meanInvocationS =
        invocationMs.length === 0
          ? CONTROL_TICK.timeoutMs / 1000
          : invocationMs.reduce((a, b) => a + b, 0) / invocationMs.length / 1000;
      return {
        ticks: done.ticks,
        containers: done.ticks === 0 ? guardedNow : Math.max(1, Math.round(done.containerTicks / done.ticks)),
        readUnits: done.readUnits,
        writeUnits: done.writeUnits,
        // Each order is one FIFO send, one receive and one delete.
        sqsRequests: done.orders * 3,
        logBytes: done.logBytes,
        fixedPerTick,
        deployment: {
          perHostMonth: {
            // One long poll per SC_AGENT_WAIT_TIME_S while idle; at most one heartbeat item write (< 1 KB) per
            // period (an upper bound: the agent skips it when a report landed within the period).
            sqsRequests: SECONDS_PER_MONTH / agentConfig.waitTimeS,
            writeUnits: SECONDS_PER_MONTH / (agentConfig.heartbeatMs / 1000),
            logBytes: 0,
          },
          functions:
            clockMode === 'invocation'
              ? [
                  {
                    name: 'control-tick',
                    memoryMiB: CONTROL_TICK.memoryMiB,
                    arch: 'arm64',
                    invocationsPerMonth: MINUTES_PER_MONTH,
                    billedSecondsPerInvocation: meanInvocationS,
                    scheduledPerMonth: MINUTES_PER_MONTH,
                  },
                ]
              : [
                  {
                    // one invocation per tick (clock queue); the watchdog's are negligible
                    name: 'control-tick (clock messages)',
                    memoryMiB: CONTROL_TICK.memoryMiB,
                    arch: 'arm64',
                    invocationsPerMonth: SECONDS_PER_MONTH / tickConfig.WINDOW_TIMELAPSE,
                    billedSecondsPerInvocation: invocationMs.length === 0 ? 1 : meanInvocationS,
                    scheduledPerMonth: 0,
                  },
                ],
        },
        containersPerHost: ASSUMED_FLEET.containersPerHost,
        tickSeconds: tickConfig.WINDOW_TIMELAPSE,
      };
    };

    return {
      config: opts.config,
      platform,
      host,
      api: { url: api.url, token },
      dashboardUrl: dashboard?.url ?? null,
      support,
      logFile,
      demo,
      guard,
      addDemoContainers,
      call,
      status,
      counters,
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
