/**
 * One small client for the AWS JSON protocols the agent speaks (SQS's AWS JSON 1.0 and
 * DynamoDB's JSON 1.0): POST a signed JSON body with an X-Amz-Target header over a
 * keep-alive node:http(s) agent, map error bodies to errors named like the SDK's
 * (ConditionalCheckFailedException, QueueDoesNotExist…) carrying $metadata.httpStatusCode,
 * and retry what the SDK would retry (network failures, throttling, 5xx) a few times.
 */
import type http from 'node:http';
import type { CallRecorder } from '../../adapters/aws-calls.ts';
import { type CredentialSource, createSigner, defaultCredentials } from './signer.ts';

export interface JsonRpcOptions {
  service: string;
  /** e.g. 'AmazonSQS' or 'DynamoDB_20120810' */
  targetPrefix: string;
  region: string;
  endpoint: string;
  credentials?: CredentialSource;
  /** Give up on one attempt after this long; default: no limit. */
  requestTimeoutMs?: number;
  /** Attempts per call for retryable failures (default 4, as the SDK's clients in adapters/aws.ts). */
  maxAttempts?: number;
  /** Sees each call (operation and input) before it is sent: adapters/aws-calls.ts. */
  record?: CallRecorder | null;
}

/** An error answered by the service, named for its error shape (like the SDK's exceptions). */
export class AwsServiceError extends Error {
  readonly $metadata: { httpStatusCode: number; requestId?: string };
  readonly $fault: 'client' | 'server';
  constructor(name: string, message: string, status: number, requestId: string | undefined) {
    super(message);
    this.name = name;
    this.$fault = status >= 500 ? 'server' : 'client';
    this.$metadata = { httpStatusCode: status, ...(requestId === undefined ? {} : { requestId }) };
  }
}

const RETRYABLE_NAMES =
  /Throttl|TooManyRequests|RequestLimitExceeded|ProvisionedThroughputExceeded|ServiceUnavailable|InternalServerError|InternalFailure|TransactionInProgress/;
const RETRYABLE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'EAI_AGAIN']);

function retryable(err: unknown): boolean {
  if (err instanceof AwsServiceError)
    return err.$metadata.httpStatusCode >= 500 || RETRYABLE_NAMES.test(err.name);
  const e = err as { code?: string; name?: string };
  return RETRYABLE_CODES.has(e.code ?? '') || e.name === 'TimeoutError';
}

/** The error name from `__type` (`com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException`). */
export function errorName(type: string | undefined, fallback: string): string {
  if (!type) return fallback;
  const afterHash = type.slice(type.lastIndexOf('#') + 1);
  return afterHash.split(':')[0] || fallback;
}

export function endpointFor(
  id: 'SQS' | 'DYNAMODB',
  service: string,
  region: string,
  env: NodeJS.ProcessEnv,
): string {
  return (
    env[`AWS_ENDPOINT_URL_${id}`] || env.AWS_ENDPOINT_URL || `https://${service}.${region}.amazonaws.com`
  );
}

export function regionFrom(env: NodeJS.ProcessEnv): string {
  const r = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!r) throw new Error('AWS_REGION is not set');
  return r;
}

/**
 * node:http or node:https, loaded as CommonJS: an ESM `import` of node:http builds its namespace,
 * which runs its lazy WebSocket getters and loads undici (≈ 13 MB of RSS for nothing); https is
 * only loaded when an endpoint needs it (≈ 7 MB for TLS).
 */
function httpModule(protocol: string): typeof http {
  return (protocol === 'https:'
    ? process.getBuiltinModule('node:https')
    : process.getBuiltinModule('node:http')) as unknown as typeof http;
}

export class JsonRpcClient {
  /** HTTP bytes of every attempt: request line, headers and body sent; status line, headers and body received. */
  readonly bytes = { sent: 0, received: 0 };
  private readonly o: JsonRpcOptions;
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly sign: ReturnType<typeof createSigner>;

  constructor(opts: JsonRpcOptions) {
    this.o = opts;
    this.url = new URL(opts.endpoint);
    this.agent = new (httpModule(this.url.protocol).Agent)({ keepAlive: true, maxSockets: 16 });
    this.sign = createSigner(opts.service, opts.region, opts.credentials ?? defaultCredentials());
  }

  async call<T>(operation: string, input: object, signal?: AbortSignal): Promise<T> {
    this.o.record?.(this.o.service as 'dynamodb' | 'sqs', operation, input as Record<string, unknown>);
    const attempts = this.o.maxAttempts ?? 4;
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.once(operation, input, signal)) as T;
      } catch (err) {
        if (attempt >= attempts || signal?.aborted || !retryable(err)) throw err;
        // exponential with jitter: ≈ 100–200, 200–400, 400–800 ms
        const wait = Math.min(5000, 200 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  destroy(): void {
    this.agent.destroy();
  }

  private async once(operation: string, input: object, signal?: AbortSignal): Promise<unknown> {
    signal?.throwIfAborted();
    const body = JSON.stringify(input);
    const u = this.url;
    const port = u.port === '' ? undefined : Number(u.port);
    const headers = await this.sign({
      method: 'POST',
      hostname: u.hostname,
      path: u.pathname || '/',
      headers: {
        host: u.host,
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `${this.o.targetPrefix}.${operation}`,
        'content-length': String(Buffer.byteLength(body)),
      },
      body,
    });
    this.bytes.sent +=
      `POST ${u.pathname || '/'} HTTP/1.1\r\n`.length +
      Object.entries(headers).reduce((n, [k, v]) => n + k.length + String(v).length + 4, 0) +
      2 +
      Buffer.byteLength(body);
    return new Promise((resolve, reject) => {
      const req = httpModule(u.protocol).request(
        {
          method: 'POST',
          hostname: u.hostname,
          port,
          path: u.pathname || '/',
          headers,
          agent: this.agent,
          ...(signal === undefined ? {} : { signal }),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const raw = Buffer.concat(chunks);
            this.bytes.received +=
              `HTTP/1.1 ${res.statusCode} ${res.statusMessage ?? ''}\r\n`.length +
              res.rawHeaders.reduce((n, h) => n + Buffer.byteLength(h) + 2, 0) +
              2 +
              raw.byteLength;
            const text = raw.toString('utf8');
            const status = res.statusCode ?? 0;
            let json: Record<string, unknown> = {};
            try {
              json = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
            } catch {
              if (status < 300) return reject(new Error(`${operation}: response is not JSON`));
            }
            if (status >= 200 && status < 300) return resolve(json);
            const queryError = String(res.headers['x-amzn-query-error'] ?? '').split(';')[0];
            const type =
              (json.__type as string | undefined) ?? (res.headers['x-amzn-errortype'] as string | undefined);
            const name = errorName(type, queryError || `Http${status}Error`);
            const message = String(json.message ?? json.Message ?? `${operation} failed with HTTP ${status}`);
            reject(
              new AwsServiceError(
                name,
                message,
                status,
                res.headers['x-amzn-requestid'] as string | undefined,
              ),
            );
          });
        },
      );
      if (this.o.requestTimeoutMs !== undefined) {
        req.setTimeout(this.o.requestTimeoutMs, () => {
          const e = new Error(`${operation} timed out after ${this.o.requestTimeoutMs} ms`);
          e.name = 'TimeoutError';
          req.destroy(e);
        });
      }
      req.on('error', reject);
      req.end(body);
    });
  }
}
