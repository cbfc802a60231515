/**
 * How `sc` reaches the API: HTTP with a bearer token (local server), HTTP
 * signed with SigV4 (API Gateway with IAM authorization), or a direct Lambda
 * invoke of the api function with the same HTTP API v2 event.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';

export interface ApiAnswer {
  status: number;
  body: unknown;
}

export interface ApiClient {
  request(method: string, path: string, body?: unknown, query?: Record<string, string>): Promise<ApiAnswer>;
}

export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: number;
  /** The API's answer when it refused or failed (its status and error body), for `--json`. */
  readonly answer: { status: number; body: unknown } | null;
  constructor(message: string, exitCode: number, answer: { status: number; body: unknown } | null = null) {
    super(message);
    this.exitCode = exitCode;
    this.answer = answer;
  }
}

/** Exit codes: 0 ok, 1 the API refused (4xx), 2 usage error, 3 unreachable or server error. */
export const EXIT = { ok: 0, refused: 1, usage: 2, unavailable: 3 } as const;

/**
 * Why a name cannot be one segment of a request path, or null when it can: URL
 * parsing resolves `.` and `..` (percent-encoded too) and `\`, and a `/` or an
 * empty name changes which route the request takes (`sc user unlink u1 ..` would
 * be `DELETE /users/u1`); text with a lone surrogate has no UTF-8 encoding. Every other
 * name is percent-encoded and sent as typed.
 */
export function pathSegmentProblem(name: string): string | null {
  if (name === '' || name === '.' || name === '..' || /[/\\]/.test(name))
    return `${JSON.stringify(name)} cannot be a name in a request path (empty, ".", ".." and names holding "/" or "\\" would change the request)`;
  if (!name.isWellFormed())
    return `${JSON.stringify(name)} cannot be a name in a request path: it is not well-formed Unicode (a lone surrogate)`;
  return null;
}

/**
 * A request path with each interpolated name percent-encoded as one segment:
 * apiPath`/users/${user}/apps/${app}`. A name that cannot be a segment is a usage error.
 */
export function apiPath(literals: TemplateStringsArray, ...names: string[]): string {
  let out = literals[0] ?? '';
  names.forEach((name, i) => {
    const problem = pathSegmentProblem(name);
    if (problem !== null) throw new CliError(problem, EXIT.usage);
    out += encodeURIComponent(name) + (literals[i + 1] ?? '');
  });
  return out;
}

/**
 * Every client's last check before sending: each segment of the path, decoded, is
 * taken literally (no empty, dot, or slash-holding segment), so what is sent is the
 * path the command built, not one a URL parser normalises into another route.
 */
export function assertLiteralPath(path: string): void {
  const fail = (why: string) => {
    throw new CliError(`refusing to send ${path}: ${why}`, EXIT.usage);
  };
  if (!path.startsWith('/')) fail('a path starts with "/"');
  if (path === '/') return;
  for (const raw of path.slice(1).split('/')) {
    let segment = raw;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      fail(`"${raw}" is not valid percent-encoding`);
    }
    const problem = pathSegmentProblem(segment);
    if (problem !== null) fail(problem);
  }
}

export interface ConnectOptions {
  url?: string | undefined;
  token?: string | undefined;
  invoke?: string | undefined;
  region?: string | undefined;
}

function withQuery(path: string, query?: Record<string, string>): string {
  const q = new URLSearchParams(query ?? {}).toString();
  return q === '' ? path : `${path}?${q}`;
}

async function parse(res: Response): Promise<ApiAnswer> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body };
}

export function httpClient(url: string, token: string): ApiClient {
  const base = url.replace(/\/+$/, '');
  return {
    async request(method, path, body, query) {
      assertLiteralPath(path);
      try {
        const res = await fetch(base + withQuery(path, query), {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(30_000),
        });
        return await parse(res);
      } catch (err) {
        throw new CliError(`cannot reach ${base}: ${(err as Error).message}`, EXIT.unavailable);
      }
    },
  };
}

function bytes(d: string | ArrayBuffer | ArrayBufferView | undefined): string | Uint8Array | undefined {
  if (d === undefined || typeof d === 'string') return d;
  if (d instanceof ArrayBuffer) return new Uint8Array(d);
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** SHA-256 (or HMAC-SHA-256 with a secret) as the signer's Checksum, from node:crypto. */
class Sha256 {
  private readonly secret: Uint8Array | string | undefined;
  private hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.secret = bytes(secret);
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytes(data) ?? '');
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

/** SigV4-signed requests for API Gateway with IAM authorization (service execute-api). */
export function sigv4Client(url: string, region: string): ApiClient {
  const base = new URL(url.replace(/\/+$/, ''));
  return {
    async request(method, path, body, query) {
      assertLiteralPath(path);
      const [{ SignatureV4 }, { defaultProvider }] = await Promise.all([
        import('@smithy/signature-v4'),
        import('@aws-sdk/credential-provider-node'),
      ]);
      const signer = new SignatureV4({
        service: 'execute-api',
        region,
        credentials: defaultProvider(),
        sha256: Sha256,
      });
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const signed = await signer.sign({
        method,
        protocol: base.protocol,
        hostname: base.hostname,
        ...(base.port === '' ? {} : { port: Number(base.port) }),
        path: `${base.pathname.replace(/\/$/, '')}${path}`,
        query: query ?? {},
        headers: {
          host: base.host,
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(payload === undefined ? {} : { body: payload }),
      });
      try {
        const res = await fetch(
          `${base.origin}${base.pathname.replace(/\/$/, '')}${withQuery(path, query)}`,
          {
            method,
            headers: signed.headers as Record<string, string>,
            ...(payload === undefined ? {} : { body: payload }),
            signal: AbortSignal.timeout(30_000),
          },
        );
        return await parse(res);
      } catch (err) {
        throw new CliError(`cannot reach ${base.origin}: ${(err as Error).message}`, EXIT.unavailable);
      }
    },
  };
}

/** Invoke the api function directly (lambda:InvokeFunction), with the event API Gateway would send. */
export function invokeClient(functionName: string, region: string | undefined): ApiClient {
  return {
    async request(method, path, body, query) {
      assertLiteralPath(path);
      const { LambdaClient, InvokeCommand } = await import('@aws-sdk/client-lambda');
      const lambda = new LambdaClient(region === undefined ? {} : { region });
      const event = {
        version: '2.0',
        routeKey: '$default',
        rawPath: path,
        rawQueryString: new URLSearchParams(query ?? {}).toString(),
        headers: { 'content-type': 'application/json' },
        ...(query === undefined ? {} : { queryStringParameters: query }),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        isBase64Encoded: false,
        requestContext: { http: { method, path } },
      };
      try {
        const out = await lambda.send(
          new InvokeCommand({
            FunctionName: functionName,
            Payload: new TextEncoder().encode(JSON.stringify(event)),
          }),
        );
        const text = new TextDecoder().decode(out.Payload ?? new Uint8Array());
        if (out.FunctionError !== undefined) throw new Error(`${out.FunctionError}: ${text}`);
        const result = JSON.parse(text) as { statusCode: number; body?: string };
        return {
          status: result.statusCode,
          body: result.body === undefined ? null : JSON.parse(result.body),
        };
      } catch (err) {
        throw new CliError(`invoking ${functionName} failed: ${(err as Error).message}`, EXIT.unavailable);
      } finally {
        lambda.destroy();
      }
    },
  };
}

export function connect(opts: ConnectOptions, env: Record<string, string | undefined>): ApiClient {
  const region = opts.region ?? env.SC_API_REGION ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const invoke = opts.invoke ?? env.SC_API_FUNCTION;
  if (opts.invoke !== undefined) return invokeClient(opts.invoke, region);
  const url = opts.url ?? env.SC_API_URL;
  if (url === undefined || url === '') {
    if (invoke !== undefined && invoke !== '') return invokeClient(invoke, region);
    throw new CliError('set SC_API_URL (or --url), or --invoke <function>', EXIT.usage);
  }
  const token = opts.token ?? env.SC_API_TOKEN;
  if (token !== undefined && token !== '') return httpClient(url, token);
  if (region === undefined)
    throw new CliError('no SC_API_TOKEN: signing with AWS credentials needs AWS_REGION', EXIT.usage);
  return sigv4Client(url, region);
}
