/**
 * What the fleet bench measures beyond requests: the bytes the functions log (their pino lines and
 * Powertools' EMF output, written by the real code), the HTTP bytes they exchange with the metrics
 * store and with SQS, the INIT time of each shipped handler, and the facts of the template
 * (alarms, dashboards, the table's key, log retention) the bill depends on.
 */
import { spawnSync } from 'node:child_process';
import { Console } from 'node:console';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { build } from 'esbuild';

/** Counts bytes and lines written to it (one CloudWatch Logs event per line). */
export class LogMeter {
  bytes = 0;
  events = 0;
  readonly stream = new Writable({
    write: (chunk: Buffer | string, _enc, done) => {
      const s = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      this.add(s);
      done();
    },
  });
  add(text: string): void {
    for (const line of text.split('\n')) {
      if (line === '') continue;
      this.bytes += Buffer.byteLength(line);
      this.events += 1;
    }
  }
  take(): { bytes: number; events: number } {
    const out = { bytes: this.bytes, events: this.events };
    this.bytes = 0;
    this.events = 0;
    return out;
  }
}

/**
 * What one invocation's Powertools Metrics writes (as functions/handlers/middleware.ts flushes it):
 * `fill` adds the metrics the handler adds, then publishStoredMetrics() runs as in Lambda, its output
 * counted. An invocation that adds none writes Powertools' "No application metrics" warning.
 * Returns the bytes, events and the metrics' identities (namespace, name, dimensions).
 */
export function emfOf(
  service: string,
  namespace: string,
  fill: (m: Metrics) => void,
): { bytes: number; events: number; metrics: string[] } {
  const meter = new LogMeter();
  const out = new Console({ stdout: meter.stream, stderr: meter.stream });
  const captured: string[] = [];
  const logger = {
    ...out,
    log: (...a: unknown[]) => out.log(...a),
    warn: (...a: unknown[]) => out.warn(...a),
    error: (...a: unknown[]) => out.error(...a),
    info: (...a: unknown[]) => out.info(...a),
    debug: (...a: unknown[]) => out.debug(...a),
  };
  const m = new Metrics({ namespace, serviceName: service, logger });
  // Powertools writes EMF to its own Console over process.stdout: point it at the meter instead.
  (m as unknown as { console: { log: (s: string) => void } }).console = {
    log: (s: string) => {
      captured.push(s);
      meter.add(`${s}\n`);
    },
  };
  fill(m);
  m.publishStoredMetrics();
  const ids = new Set<string>();
  for (const s of captured) {
    const doc = JSON.parse(s) as {
      _aws: {
        CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[];
      };
      [k: string]: unknown;
    };
    for (const d of doc._aws.CloudWatchMetrics)
      for (const dims of d.Dimensions)
        for (const metric of d.Metrics)
          ids.add(`${d.Namespace}/${metric.Name}/${dims.map((k) => `${k}=${String(doc[k])}`).join(',')}`);
  }
  // stdout/stderr writes are synchronous to a Writable only after the tick: count what is there now
  return { ...meter.take(), metrics: [...ids] };
}

export interface HttpBytes {
  requests: number;
  sentBytes: number;
  receivedBytes: number;
}

const headerBytes = (h: Headers | Record<string, string> | undefined): number => {
  if (h === undefined) return 0;
  let n = 0;
  const entries = h instanceof Headers ? [...h.entries()] : Object.entries(h);
  for (const [k, v] of entries) n += k.length + v.length + 4; // "k: v\r\n"
  return n;
};

function bodyBytes(body: unknown): number {
  if (body === undefined || body === null) return 0;
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (body instanceof ArrayBuffer) return body.byteLength;
  if (ArrayBuffer.isView(body)) return body.byteLength;
  if (body instanceof URLSearchParams) return Buffer.byteLength(body.toString());
  return Buffer.byteLength(String(body));
}

/**
 * A fetch that counts each request's bytes as sent (request line, headers, body) and the response's
 * (status line, headers, body) when `counting(url)` is true. TLS and TCP/IP framing are not counted.
 */
export function countingFetch(
  inner: typeof fetch,
  counting: (url: URL) => boolean,
): { fetch: typeof fetch; bytes: HttpBytes } {
  const bytes: HttpBytes = { requests: 0, sentBytes: 0, receivedBytes: 0 };
  const wrapped = (async (input: string | URL | Request, init?: RequestInit) => {
    const res = await inner(input, init);
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (!counting(url)) return res;
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    bytes.requests += 1;
    bytes.sentBytes +=
      `${method} ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n\r\n`.length +
      headerBytes(init?.headers as Record<string, string> | undefined) +
      bodyBytes(init?.body);
    const body = await res.clone().arrayBuffer();
    bytes.receivedBytes +=
      `HTTP/1.1 ${res.status} ${res.statusText}\r\n\r\n`.length + headerBytes(res.headers) + body.byteLength;
    return res;
  }) as typeof fetch;
  return { fetch: wrapped, bytes };
}

/** Counts the HTTP bytes of every request an SDK SQS client sends and of its responses (content-length). */
export function countSqsBytes(client: SQSClient, bytes: HttpBytes, counting: () => boolean): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      if (!counting()) return out;
      const req = args.request as {
        method?: string;
        path?: string;
        headers?: Record<string, string>;
        body?: unknown;
      };
      const res = out.response as { statusCode?: number; headers?: Record<string, string> };
      bytes.requests += 1;
      bytes.sentBytes +=
        `${req.method} ${req.path} HTTP/1.1\r\n\r\n`.length + headerBytes(req.headers) + bodyBytes(req.body);
      bytes.receivedBytes +=
        `HTTP/1.1 ${res.statusCode}\r\n\r\n`.length +
        headerBytes(res.headers) +
        Number(res.headers?.['content-length'] ?? 0);
      return out;
    },
    { step: 'deserialize', name: 'scBytesCounter' },
  );
}

/** The facts of serverless.yml the bill depends on, read from its text. */
export interface TemplateFacts {
  logRetentionDays: number;
  tracing: boolean;
  /** Metrics the alarms read: one per single-metric alarm, each MetricStat of a metric-math alarm. */
  alarmMetrics: number;
  dashboards: number;
  /** SSEEnabled without a KMS key id: the AWS managed key (aws/dynamodb); no SSESpecification: AWS owned. */
  tableKey: 'aws-owned' | 'aws-managed' | 'customer-managed';
}

export function templateFacts(yml: string): TemplateFacts {
  const resources = yml.split(/\n(?= {4}[A-Za-z0-9]+:\n {6}Type: )/);
  let alarmMetrics = 0;
  let dashboards = 0;
  let tableKey: TemplateFacts['tableKey'] = 'aws-owned';
  for (const r of resources) {
    if (/\n {6}Type: AWS::CloudWatch::Alarm\b/.test(r))
      alarmMetrics += /\n {8}Metrics:/.test(r) ? (r.match(/MetricStat:/g) ?? []).length : 1;
    if (/\n {6}Type: AWS::CloudWatch::Dashboard\b/.test(r)) dashboards += 1;
    if (/\n {6}Type: AWS::DynamoDB::Table\b/.test(r)) {
      const sse = /SSESpecification:\s*(\{[^}]*\}|\n(?: {10}.*\n?)+)/.exec(r)?.[1] ?? '';
      if (/SSEEnabled:\s*true/.test(sse))
        tableKey = /KMSMasterKeyId/.test(sse) ? 'customer-managed' : 'aws-managed';
    }
  }
  const retention = /\n {2}logRetentionInDays:\s*(\d+)/.exec(yml)?.[1];
  if (retention === undefined)
    throw new Error('serverless.yml: provider.logRetentionInDays is not set (logs would be kept forever)');
  return {
    logRetentionDays: Number(retention),
    tracing: /\n {2}tracing:\s*\n {4}lambda:\s*true/.test(yml),
    alarmMetrics,
    dashboards,
    tableKey,
  };
}

/**
 * INIT of a handler as shipped: bundled as serverless.yml bundles it (esbuild, ESM, node24, the same
 * banner), then loaded in a fresh Node process with `env`; the time from the process's start to the
 * module loaded (runtime start + the bundle's module scope), ms, median of `runs`. Lambda's own
 * sandbox setup is not in it.
 */
export async function measureInitMs(entry: string, env: Record<string, string>, runs = 3): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'sc-init-'));
  try {
    const out = join(dir, 'handler.mjs');
    await build({
      entryPoints: [entry],
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node24',
      outfile: out,
      logLevel: 'silent',
      banner: {
        js: "import { createRequire as __scCreateRequire } from 'node:module'; const require = __scCreateRequire(import.meta.url);",
      },
    });
    const script = `await import(${JSON.stringify(pathToFileURL(out).href)}); process.stdout.write(String(performance.now()));`;
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        env: { PATH: process.env.PATH ?? '', ...env },
        encoding: 'utf8',
        timeout: 60_000,
      });
      if (r.status !== 0) throw new Error(`loading ${entry}: ${r.stderr.trim().slice(0, 600)}`);
      times.push(Number(r.stdout));
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)] as number;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
