/**
 * `npm start`: bring the local platform up on 127.0.0.1 (dynalite in-process by
 * default, no Java needed; `--dynamodb-local` for AWS DynamoDB Local), bootstrap
 * it, print the endpoints and "ready in N ms", and on Ctrl-C / SIGTERM stop
 * everything that was started, leaving no process behind.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { readEnvConfig } from '../adapters/env.ts';
import { startPlatformApi } from '../functions/api/local-server.ts';
import { PlatformEnv } from './bootstrap.ts';
import { type LocalPlatform, startLocalPlatform } from './platform.ts';

const USAGE = `usage: npm start -- [--dynamodb-local] [--no-tsdb]
  --dynamodb-local  use AWS DynamoDB Local (Java) instead of in-process dynalite
  --no-tsdb         do not start VictoriaMetrics (the local metrics store)
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
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'dynamodb-local': { type: 'boolean', default: false },
      'no-tsdb': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
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
  // Parts that run on top of the platform (control loop, host agent, API) start here and add their stop.
  printReady(platform);
  await startApi(platform, shutdown);
  say(`ready in ${Math.round(performance.now())} ms (Ctrl-C to stop)`);
}

try {
  await main();
} catch (err) {
  process.stderr.write(`[sc] start failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
