import { createWriteStream, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createDynamoDocumentClient, createSqsClient } from '../adapters/aws.ts';
import { systemClock } from '../adapters/clock.ts';
import { TableClient } from '../adapters/dynamodb/table-client.ts';
import { createLogger, type Logger } from '../adapters/logger.ts';
import { PrometheusMetricsSource } from '../adapters/metrics/prometheus.ts';
import type { Rule } from '../core/contracts/rule.ts';
import { defaultConfig, type GuardianConfig } from '../core/contracts/service-config.ts';
import { usageWindow } from '../core/ports/metrics-source.ts';
import { prometheusSeries } from '../dashboard/read-model.ts';
import { type DashboardServer, startDashboardServer } from '../dashboard/server.ts';
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
import { registerThisHost, startApi, storeLoopConfig } from './starters/api.ts';
import { CONTROL_TICK, type LoopCounters, loopCounters, startControlTick } from './starters/control-tick.ts';
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

/** A container's resources at subscription (shares, MiB). */
export interface GuardSpec {
  cpu: { min: number; current: number; max: number };
  mem: { min: number; current: number; max: number };
}

export const DEMO_SPEC: GuardSpec = {
  cpu: { min: 25, current: 50, max: 200 },
  mem: { min: 64, current: 128, max: 1024 },
};

export type { LoopCounters } from './starters/control-tick.ts';
export { CONTROL_TICK, LOCAL_ACTIVITY_HOLD_S } from './starters/control-tick.ts';
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

  const stops: Stops = [];
  const demo: WorkloadContainer[] = [];
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
    let guardedNow = 0;
    const tickConfig = { ...defaultConfig('guardian'), ...chosen.guardian };
    const usageReader = new PrometheusMetricsSource({ url: promUrl });
    say(
      tick.clockMode === 'invocation'
        ? `control tick scheduled ${CONTROL_TICK.rate}, ticking every ${tickConfig.WINDOW_TIMELAPSE} s inside each invocation (Guardian → Scaler → SQS)`
        : `control tick clocked by a delay queue, one tick every ${tickConfig.WINDOW_TIMELAPSE} s per message; watchdog ${CONTROL_TICK.rate} (Guardian → Scaler → SQS)`,
    );

    startSweeps({ platform, promUrl, opentsdbUrl, metrics: usageReader, logger, stops });
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

    const status = () => loopStatus({ state: table, series }, paths, agentConfig.cpuPeriodUs);
    const counters = () =>
      loopCounters(tick, { guardedNow, agentConfig, tickSeconds: tickConfig.WINDOW_TIMELAPSE });

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
