/**
 * An API over a fresh state table (dynalite or DynamoDB Local) and fauxqs,
 * with the real catalog, admission, rule checker and planner: what every API
 * integration test drives, in-process (events) or over the local server.
 */
import { Writable } from 'node:stream';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { createSqsClient } from '../../../../adapters/aws.ts';
import { Catalog } from '../../../../adapters/dynamodb/catalog.ts';
import { createLogger } from '../../../../adapters/logger.ts';
import { DEFAULT_RULES } from '../../../../core/policy/default-rules.ts';
import type { Clock } from '../../../../core/ports/clock.ts';
import type { Api } from '../../../../functions/api/app.ts';
import type { ApiDeps } from '../../../../functions/api/deps.ts';
import type { HttpEvent } from '../../../../functions/api/http.ts';
import { buildApi } from '../../../../functions/api/wiring.ts';
import { type LocalApiServer, startLocalApi } from '../../../../local/api-server.ts';
import type { DynamoFlavour } from '../../../../local/emulators.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { sqsEndpoint, uniqueName } from '../../../support/env.ts';

export const T0 = 1_700_000_000_000;

export interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: test answers are inspected freely
  body: any;
}

export interface ApiFixture {
  api: Api;
  deps: ApiDeps;
  tt: TestTable;
  sqs: SQSClient;
  queuePrefix: string;
  clock: Clock & { t: number };
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer>;
  /**
   * Every state item of the table, for "nothing changed" assertions. The activity
   * log (LOG#…) is left out: it is an audit trail, and the planner records there
   * the requests it refuses.
   */
  snapshot(): Promise<unknown[]>;
  serve(token: string): Promise<LocalApiServer>;
  close(): Promise<void>;
}

export async function apiFixture(flavour: DynamoFlavour): Promise<ApiFixture> {
  const tt = await createTestTable(flavour);
  const sqs = createSqsClient({ endpoint: sqsEndpoint(), region: 'us-east-1' });
  const queuePrefix = `${uniqueName('t').replace(/-/g, '')}-`;
  const catalog = new Catalog(tt.table);
  for (const rule of DEFAULT_RULES) await catalog.putRule(rule);
  const clock = {
    t: T0,
    now() {
      return this.t;
    },
    async sleep() {},
  };
  // The API's own wiring (catalog, admission, rule checker, planner), with a test clock and a log we can read.
  const unexpected: string[] = [];
  const logger = createLogger('api', {
    level: 'error',
    destination: new Writable({
      write(chunk, _enc, done) {
        unexpected.push(String(chunk));
        if (process.env.SC_TEST_VERBOSE) process.stderr.write(chunk);
        done();
      },
    }),
  });
  // The API's own clients: its calls are recorded as the api function's (IAM test); the fixture's
  // `tt` and `sqs` (seeding, inspecting) are not.
  const own = tt.as('api', queuePrefix);
  const apiSqs = createSqsClient({ endpoint: sqsEndpoint(), region: 'us-east-1', record: own.record });
  const { api, deps } = buildApi({
    env: { SC_TABLE: tt.tableName, SC_QUEUE_PREFIX: queuePrefix },
    doc: own.table.doc,
    sqs: apiSqs,
    logger,
    clock,
  });
  const servers: LocalApiServer[] = [];
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const [rawPath, qs = ''] = path.split('?');
    const event: HttpEvent = {
      version: '2.0',
      rawPath: rawPath as string,
      rawQueryString: qs,
      headers,
      ...(qs === '' ? {} : { queryStringParameters: Object.fromEntries(new URLSearchParams(qs)) }),
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      requestContext: { http: { method } },
    };
    const r = await api.handle(event);
    if (r.statusCode >= 500)
      throw new Error(
        `HTTP ${r.statusCode} for ${method} ${path}: ${String((unexpected.at(-1) as { err?: unknown })?.err)}`,
        { cause: unexpected.at(-1) },
      );
    return { status: r.statusCode, body: JSON.parse(r.body) };
  };
  return {
    api,
    deps,
    tt,
    sqs,
    queuePrefix,
    clock,
    call,
    async snapshot() {
      const items = await tt.table.doc.send(
        new (await import('@aws-sdk/lib-dynamodb')).ScanCommand({
          TableName: tt.tableName,
          ConsistentRead: true,
        }),
      );
      return (items.Items ?? [])
        .filter((i) => !String(i.pk).startsWith('LOG#'))
        .sort((a, b) => `${a.pk}|${a.sk}`.localeCompare(`${b.pk}|${b.sk}`));
    },
    async serve(token) {
      const s = await startLocalApi({ api, token });
      servers.push(s);
      return s;
    },
    async close() {
      await Promise.all(servers.map((s) => s.stop()));
      sqs.destroy();
      apiSqs.destroy();
      await tt.drop();
    },
  };
}

/** A host body: `cores` logical CPUs, `memMiB`, one disk "ssd" (read/write MiB/s), net. */
export function aHost(
  o: { cores?: number; memMiB?: number; disk?: [number, number]; netMbps?: number } = {},
) {
  return {
    cpu: { cores: o.cores ?? 4 },
    memMiB: o.memMiB ?? 8192,
    disks: { ssd: { path: '/mnt/ssd', readMiBps: o.disk?.[0] ?? 500, writeMiBps: o.disk?.[1] ?? 300 } },
    netMbps: o.netMbps ?? 1000,
  };
}

/** A container body on `host` with cpu and mem (max:min:current). */
export function aContainer(
  host: string,
  o: { cpu?: [number, number, number]; mem?: [number, number, number] } = {},
) {
  const [cmax, cmin, ccur] = o.cpu ?? [200, 50, 100];
  const [mmax, mmin, mcur] = o.mem ?? [2048, 256, 1024];
  return {
    host,
    resources: {
      cpu: { max: cmax, min: cmin, current: ccur },
      mem: { max: mmax, min: mmin, current: mcur },
    },
  };
}
