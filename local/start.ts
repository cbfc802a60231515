/**
 * `npm start`: the whole control loop on this machine (local/loop.ts): the
 * platform on 127.0.0.1, the API, this machine registered as a host, the host
 * agent, the control tick under the local scheduler, the dashboard, and demo
 * containers running the phased workload (idle → CPU burst → memory growth →
 * idle), then a live status table. `--platform-only` brings up only the
 * bootstrapped platform (and the API when SC_API_TOKEN is set), as before.
 * Ctrl-C / SIGTERM stops everything that was started and removes what was
 * created, leaving no process behind.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { readEnvConfig } from '../adapters/env.ts';
import { startPlatformApi } from './api-server.ts';
import { PlatformEnv } from './bootstrap.ts';
import { type LoopConfigName, type RunningLoop, startLoop } from './loop.ts';
import { type LocalPlatform, startLocalPlatform } from './platform.ts';
import { statusLines } from './status-table.ts';
import { phasePlan, runPhases } from './workload.ts';

const USAGE = `usage: npm start [-- options]
  (default)         the whole loop: platform, API, host agent, control tick, dashboard, demo containers
  --config NAME     service config of the loop: default (as shipped) or tuned (1 s windows)
  --demo N          demo containers to create and guard (default 3; 0 for none)
  --platform-only   only the bootstrapped platform (and the API with SC_API_TOKEN)
  --dynamodb-local  use AWS DynamoDB Local (Java) instead of in-process dynalite
  --no-tsdb         with --platform-only: do not start VictoriaMetrics (the local metrics store)
environment: SC_TABLE (default sc-state), SC_QUEUE_PREFIX (default sc-),
  SC_API_TOKEN (serves the API on 127.0.0.1 with this bearer token), SC_API_PORT (default: a free port)`;

const DOUBLE_SIGNAL_MS = 1000;

const say = (line: string): void => {
  process.stdout.write(`[sc] ${line}\n`);
};

function printReady(platform: LocalPlatform): void {
  const e = platform.endpoints;
  say(`DynamoDB    ${e.dynamodb}  (${platform.dynamoFlavour}, table ${platform.tableName})`);
  say(`SQS         ${e.sqs}  (fauxqs, queue prefix ${platform.queuePrefix})`);
  if (e.prometheus !== null)
    say(`metrics     ${e.prometheus}  (Prometheus API; OpenTSDB put at ${e.opentsdb})`);
  say('point the CLI or the SDK at it with:');
  for (const [k, v] of Object.entries(platform.env)) say(`  export ${k}=${v}`);
}

/**
 * Stops registered parts (most recent first) on the first SIGINT/SIGTERM; a part
 * registered after the signal (still starting when it came) is stopped at once.
 * A second signal (later than DOUBLE_SIGNAL_MS) exits without waiting.
 */
function shutdownOnSignal(): { add(stop: () => Promise<void>): boolean } {
  const stops: (() => Promise<void>)[] = [];
  let stopping = false;
  let firstSignalAt = 0;
  const runStop = async (stop: () => Promise<void>): Promise<void> => {
    try {
      await stop();
    } catch (err) {
      process.exitCode = 1;
      say(`stop failed: ${(err as Error).message}`);
    }
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // Ctrl-C reaches us twice at once: from the terminal (whole group) and forwarded by npm.
      if (performance.now() - firstSignalAt < DOUBLE_SIGNAL_MS) return;
      say(`${signal} again: exiting without waiting`);
      process.exit(130);
    }
    stopping = true;
    firstSignalAt = performance.now();
    say(`${signal}: stopping`);
    void (async () => {
      for (const stop of stops.reverse()) await runStop(stop);
      say('stopped');
      // Everything is closed, so the process ends by itself; this only catches a leaked handle.
      setTimeout(() => {
        say('a handle is still open after stop; exiting');
        process.exit(process.exitCode ?? 0);
      }, 3000).unref();
    })();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    /** Register a part's stop; false when shutdown already began (the part is being stopped). */
    add(stop) {
      if (stopping) void runStop(stop);
      else stops.push(stop);
      return !stopping;
    },
  };
}

/** The orchestration API on 127.0.0.1, only with a bearer token: no endpoint is open by default. */
async function startApi(
  platform: LocalPlatform,
  shutdown: { add(stop: () => Promise<void>): void },
): Promise<void> {
  const token = process.env.SC_API_TOKEN;
  if (token === undefined || token.length < 8) {
    say('API         not started: set SC_API_TOKEN (at least 8 characters) to serve it');
    return;
  }
  const port = process.env.SC_API_PORT === undefined ? 0 : Number(process.env.SC_API_PORT);
  const api = await startPlatformApi({
    dynamodbEndpoint: platform.endpoints.dynamodb,
    sqsEndpoint: platform.endpoints.sqs,
    tableName: platform.tableName,
    queuePrefix: platform.queuePrefix,
    token,
    ...(Number.isInteger(port) && port > 0 ? { port } : {}),
  });
  shutdown.add(api.stop);
  say(`API         ${api.url}  (bearer token from SC_API_TOKEN)`);
  say(`  export SC_API_URL=${api.url}`);
  say('  npx sc host ls   # from this directory; npx sc --help for every command');
}

async function platformOnly(values: { 'dynamodb-local': boolean; 'no-tsdb': boolean }): Promise<void> {
  const env = readEnvConfig(PlatformEnv, process.env, 'environment');
  const shutdown = shutdownOnSignal();
  const platform = await startLocalPlatform({
    dynamo: values['dynamodb-local'] ? 'dynamodb-local' : 'dynalite',
    tsdb: !values['no-tsdb'],
    tableName: env.SC_TABLE,
    queuePrefix: env.SC_QUEUE_PREFIX,
    log: say,
  });
  if (!shutdown.add(platform.stop)) return;
  printReady(platform);
  await startApi(platform, shutdown);
  say(`ready in ${Math.round(performance.now())} ms (Ctrl-C to stop)`);
}

/** Redraws the status table in place on a terminal; prints it every 10 s otherwise. */
function showStatus(loop: RunningLoop, phase: () => string, signal: AbortSignal): void {
  const tty = process.stdout.isTTY === true;
  let drawn = 0;
  let last = 0;
  const draw = async (): Promise<void> => {
    if (signal.aborted) return;
    const rows = await loop.status().catch(() => null);
    if (rows === null || signal.aborted) return;
    const lines = statusLines(
      rows,
      `── ${new Date().toISOString().slice(11, 19)} UTC · phase ${phase()} · cpu in shares (100 = 1 core) · dashboard ${loop.dashboardUrl ?? '-'}`,
      tty ? (process.stdout.columns ?? 120) : 160,
    );
    if (tty) {
      process.stdout.write(`${drawn > 0 ? `\x1b[${drawn}A\x1b[J` : ''}${lines.join('\n')}\n`);
      drawn = lines.length;
    } else if (Date.now() - last >= 10_000) {
      last = Date.now();
      process.stdout.write(`${lines.map((l) => `[sc] ${l}`).join('\n')}\n`);
    }
  };
  const timer = setInterval(() => void draw(), 2000);
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}

async function wholeLoop(values: { 'dynamodb-local': boolean; config: string; demo: string }): Promise<void> {
  const config = values.config as LoopConfigName;
  if (config !== 'default' && config !== 'tuned')
    throw new Error(`--config must be default or tuned, got ${values.config}`);
  const demoCount = Number(values.demo);
  if (!Number.isInteger(demoCount) || demoCount < 0 || demoCount > 8)
    throw new Error(`--demo must be an integer 0-8, got ${values.demo}`);
  const env = readEnvConfig(PlatformEnv, process.env, 'environment');
  const shutdown = shutdownOnSignal();
  const ac = new AbortController();
  shutdown.add(async () => ac.abort());
  const loop = await startLoop({
    config,
    signal: ac.signal,
    dynamo: values['dynamodb-local'] ? 'dynamodb-local' : 'dynalite',
    tableName: env.SC_TABLE,
    queuePrefix: env.SC_QUEUE_PREFIX,
    log: say,
  });
  if (!shutdown.add(loop.stop)) return;
  say(`logs        ${loop.logFile}`);
  say('use the CLI with:');
  say(`  export SC_API_URL=${loop.api.url} SC_API_TOKEN=${loop.api.token}`);
  say('  npx sc status   # from this directory; npx sc --help for every command');
  let phase = 'starting';
  if (demoCount > 0) {
    if (loop.support.mode !== 'lxc')
      say(`demo containers run as ${loop.support.mode}: ${loop.support.reason}`);
    await loop.addDemoContainers(demoCount);
    const plan = phasePlan();
    say(`workload    ${plan.map((p) => `${p.name} ${p.durationMs / 1000} s`).join(' → ')}, repeated`);
    void runPhases(loop.demo, plan, {
      signal: ac.signal,
      rounds: Number.POSITIVE_INFINITY,
      onPhase: (name) => {
        phase = name;
      },
    }).catch((err: unknown) => say(`workload stopped: ${(err as Error).message}`));
  } else phase = 'no demo';
  say(`ready in ${Math.round(performance.now())} ms (Ctrl-C to stop and remove everything)`);
  showStatus(loop, () => phase, ac.signal);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'platform-only': { type: 'boolean', default: false },
      'dynamodb-local': { type: 'boolean', default: false },
      'no-tsdb': { type: 'boolean', default: false },
      config: { type: 'string', default: 'default' },
      demo: { type: 'string', default: '3' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (values['platform-only']) await platformOnly(values);
  else await wholeLoop(values);
}

try {
  await main();
} catch (err) {
  process.stderr.write(`[sc] start failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
