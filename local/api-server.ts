/**
 * The API on 127.0.0.1 for the local platform, the tests and the CLI tests:
 * node:http requests become the same HTTP API v2 events the Lambda receives.
 * Every request needs `Authorization: Bearer <token>`; there is no open mode.
 */
import { timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { createDynamoDocumentClient, createSqsClient } from '../adapters/aws.ts';
import { readEnvConfig } from '../adapters/env.ts';
import { createLogger, type Logger } from '../adapters/logger.ts';
import { DEFAULT_QUEUE_PREFIX } from '../core/contracts/order-queue.ts';
import { DEFAULT_TABLE_NAME } from '../core/contracts/table-layout.ts';
import type { Api } from '../functions/api/app.ts';
import { errorResult, type HttpEvent, type HttpResult } from '../functions/api/http.ts';
import { buildApi } from '../functions/api/wiring.ts';

export const LOCAL_HOST = '127.0.0.1';
const MAX_BODY_BYTES = 1024 * 1024;

export interface LocalApiServer {
  /** e.g. http://127.0.0.1:43121 */
  readonly url: string;
  stop(): Promise<void>;
}

export interface LocalServerOptions {
  api: Pick<Api, 'handle'>;
  token: string | undefined;
  port?: number;
}

/**
 * Refuses an empty token: no endpoint is open by default. Surrounding whitespace
 * (a token read from a file) is not part of it: a client cannot send it.
 */
export function requireToken(token: string | undefined): string {
  const t = token?.trim();
  if (t === undefined || t.length < 8)
    throw new Error(
      'SC_API_TOKEN must be set (at least 8 characters) to serve the API locally; it is never open',
    );
  return t;
}

export function authorized(authorization: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
  if (m?.[1] === undefined) return false;
  const given = Buffer.from(m[1].trim());
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** The HTTP API v2 event of a node:http request (what API Gateway would send). */
export function toEvent(req: IncomingMessage, body: string): HttpEvent {
  const url = new URL(req.url ?? '/', 'http://local');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  const method = (req.method ?? 'GET').toUpperCase();
  const rawPath = url.pathname;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    ...(body === '' ? {} : { body }),
    isBase64Encoded: false,
    requestContext: { http: { method, path: rawPath, sourceIp: req.socket.remoteAddress ?? '' } },
  };
}

function send(res: ServerResponse, result: HttpResult): void {
  res.writeHead(result.statusCode, result.headers);
  res.end(result.body);
}

async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startLocalApi(opts: LocalServerOptions): Promise<LocalApiServer> {
  const token = requireToken(opts.token);
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (!authorized(req.headers.authorization, token)) {
        req.resume();
        return send(res, errorResult(401, 'Unauthorized', 'missing or wrong bearer token (SC_API_TOKEN)'));
      }
      const body = await readBody(req);
      if (body === null)
        return send(res, errorResult(413, 'PayloadTooLarge', `body over ${MAX_BODY_BYTES} bytes`));
      send(res, await opts.api.handle(toEvent(req, body)));
    })().catch((err: unknown) => {
      if (!res.headersSent) send(res, errorResult(500, 'InternalError', String(err)));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 1000;
  server.listen(opts.port ?? 0, LOCAL_HOST);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${LOCAL_HOST}:${port}`,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

export interface PlatformApiOptions {
  dynamodbEndpoint: string;
  sqsEndpoint: string;
  tableName: string;
  queuePrefix: string;
  token: string | undefined;
  port?: number;
  logger?: Logger;
}

/** The API over the local platform's emulators (used by `npm start`). */
export async function startPlatformApi(opts: PlatformApiOptions): Promise<LocalApiServer> {
  const token = requireToken(opts.token);
  const client = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
  const doc = createDynamoDocumentClient({ ...client, endpoint: opts.dynamodbEndpoint });
  const sqs = createSqsClient({ ...client, endpoint: opts.sqsEndpoint });
  const { api } = buildApi({
    env: { SC_TABLE: opts.tableName, SC_QUEUE_PREFIX: opts.queuePrefix },
    doc,
    sqs,
    logger: opts.logger ?? createLogger('api'),
  });
  const server = await startLocalApi({ api, token, ...(opts.port === undefined ? {} : { port: opts.port }) });
  return {
    url: server.url,
    stop: async () => {
      await server.stop();
      doc.destroy();
      sqs.destroy();
    },
  };
}

const LocalApiEnv = z.object({
  SC_API_TOKEN: z.string().min(8, { message: 'must be set (at least 8 characters): the API is never open' }),
  SC_API_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  SC_TABLE: z.string().min(3).default(DEFAULT_TABLE_NAME),
  SC_QUEUE_PREFIX: z.string().default(DEFAULT_QUEUE_PREFIX),
  AWS_ENDPOINT_URL_DYNAMODB: z.url(),
  AWS_ENDPOINT_URL_SQS: z.url(),
});

// `node local/api-server.ts`: serve the API over emulators that are already running.
if (import.meta.main) {
  try {
    const env = readEnvConfig(LocalApiEnv, process.env, 'environment');
    const server = await startPlatformApi({
      dynamodbEndpoint: env.AWS_ENDPOINT_URL_DYNAMODB,
      sqsEndpoint: env.AWS_ENDPOINT_URL_SQS,
      tableName: env.SC_TABLE,
      queuePrefix: env.SC_QUEUE_PREFIX,
      token: env.SC_API_TOKEN,
      port: env.SC_API_PORT,
    });
    process.stdout.write(`[sc] API ${server.url}\n[sc]   export SC_API_URL=${server.url}\n`);
    const stop = () => void server.stop().then(() => process.stdout.write('[sc] API stopped\n'));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  } catch (err) {
    process.stderr.write(`[sc] API not started: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
