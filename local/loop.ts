import { createWriteStream, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createDynamoDocumentClient, createSqsClient } from '../adapters/aws.ts';
import { TableClient } from '../adapters/dynamodb/table-client.ts';
import { createLogger, type Logger } from '../adapters/logger.ts';
import { PrometheusMetricsSource } from '../adapters/metrics/prometheus.ts';
import type { Rule } from '../core/contracts/rule.ts';
import { defaultConfig, type GuardianConfig } from '../core/contracts/service-config.ts';
import { prometheusSeries } from '../dashboard/read-model.ts';
import { detectHostSupport, type HostSupport, type WorkloadContainer } from './containers.ts';
import type { DynamoFlavour } from './emulators.ts';
import { type LocalPlatform, startLocalPlatform } from './platform.ts';
import { registerThisHost, startApi, storeLoopConfig } from './starters/api.ts';
import { CONTROL_TICK, type LoopCounters, loopCounters, startControlTick } from './starters/control-tick.ts';
import { startDashboard } from './starters/dashboard.ts';
import { demoContainers, type GuardSpec } from './starters/demo.ts';
import { startHostAgent } from './starters/host-agent.ts';
import { LOCAL, type Stops, stopInReverse } from './starters/local.ts';
import { loopStatus, type StatusRow } from './starters/status.ts';
import { startSweeps } from './starters/sweeps.ts';

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

export type { LoopCounters } from './starters/control-tick.ts';
export { CONTROL_TICK, LOCAL_ACTIVITY_HOLD_S } from './starters/control-tick.ts';
export { DEMO_SPEC, type GuardSpec } from './starters/demo.ts';
export type { StatusRow } from './starters/status.ts';
export { SWEEP } from './starters/sweeps.ts';

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

export async function startLoop(opts: LoopOptions): Promise<RunningLoop> {
  const say = opts.log ?? (() => undefined);
  const chosen = LOOP_CONFIGS[opts.config];
  const logFile = opts.logFile ?? join(tmpdir(), `sc-loop-${process.pid}-${Date.now()}.log`);
  const logSink = createWriteStream(logFile, { flags: 'a' });
  const tickLogStream = new CountingStream(logSink);
  const logger = (component: string, stream: NodeJS.WritableStream = logSink): Logger =>
    createLogger(component, { destination: stream });

  const stops: Stops = [];
  const stop = stopInReverse(stops, async () => {
    // The control tick's counting stream may still hold lines on their way to the log file.
    await new Promise<void>((r) => tickLogStream.end(r));
    await new Promise<void>((r) => logSink.end(r));
  });
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

    await storeLoopConfig({ table, name: opts.config, config: chosen, say });
    const api = await startApi({ platform, apiToken: opts.apiToken, logger: logger('api'), say, stops });
    const { token, call } = api;

    // This machine as a host, through the API (creates HostState and the order queue + DLQ).
    const { host, registration } = await registerThisHost(call, say);

    // The host agent for this machine, in-process, publishing usage to VictoriaMetrics.
    const { agent, agentConfig } = await startHostAgent({
      platform,
      host,
      opentsdbUrl,
      publishMs: chosen.publishMs,
      dryRun: support.mode === 'dry-run',
      logger: logger('host-agent'),
      say,
      stops,
    });

    const tick = await startControlTick({
      platform,
      promUrl,
      opentsdbUrl,
      tickEnv: chosen.tickEnv ?? {},
      logStream: tickLogStream,
      stops,
    });
    const tickConfig = { ...defaultConfig('guardian'), ...chosen.guardian };
    const usageReader = new PrometheusMetricsSource({ url: promUrl });
    say(
      tick.clockMode === 'invocation'
        ? `control tick scheduled ${CONTROL_TICK.rate}, ticking every ${tickConfig.WINDOW_TIMELAPSE} s inside each invocation (Guardian → Scaler → SQS)`
        : `control tick clocked by a delay queue, one tick every ${tickConfig.WINDOW_TIMELAPSE} s per message; watchdog ${CONTROL_TICK.rate} (Guardian → Scaler → SQS)`,
    );

    startSweeps({ platform, promUrl, opentsdbUrl, metrics: usageReader, logger, stops });
    say('sweeps      snapshoter and sanity sweep scheduled rate(1 minute)');

    const series = prometheusSeries(promUrl);
    const dashboard = opts.dashboard === false ? null : await startDashboard({ table, series, say, stops });

    const demo = demoContainers({
      host,
      registration,
      call,
      agent,
      agentConfig,
      support,
      tickConfig,
      usageReader,
      signal: opts.signal,
      say,
      stops,
    });

    const status = () => loopStatus({ state: table, series }, demo.paths, agentConfig.cpuPeriodUs);
    const counters = () =>
      loopCounters(tick, {
        guardedNow: demo.guarded(),
        agentConfig,
        tickSeconds: tickConfig.WINDOW_TIMELAPSE,
      });

    return {
      config: opts.config,
      platform,
      host,
      api: { url: api.url, token },
      dashboardUrl: dashboard?.url ?? null,
      support,
      logFile,
      demo: demo.demo,
      guard: demo.guard,
      addDemoContainers: demo.addDemoContainers,
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
