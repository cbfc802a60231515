/**
 * A small router for API Gateway HTTP API v2 events: path templates with typed
 * parameters, bodies validated by zod schemas (the same schemas produce the
 * OpenAPI document), typed errors mapped to status codes. No framework.
 */

import { z } from 'zod';
import { jsonProblem, MAX_BODY_BYTES } from '../../core/contracts/json-bounds.ts';
import { own } from '../../core/contracts/keyed.ts';
import { parseOrThrow, ScError, ValidationError } from '../../core/errors.ts';
import {
  errorResult,
  type HttpEvent,
  type HttpResult,
  header,
  json,
  resultOfError,
  UnsupportedMediaTypeError,
} from './http.ts';

export type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

export interface RouteContext<B> {
  params: Readonly<Record<string, string>>;
  body: B;
  query: Readonly<Record<string, string>>;
  /** Version from an If-Match header: the write happens only if the item still has it (else 409). */
  ifMatch: number | null;
}

export interface Reply {
  status: 200 | 201 | 202;
  body: unknown;
}

export interface Route {
  method: Method;
  path: string;
  summary: string;
  tag: string;
  body: z.ZodType | undefined;
  /** Status of a successful answer, for the OpenAPI document. */
  ok: 200 | 201 | 202;
  /** Whether the route honours If-Match (writes one versioned item); elsewhere the header is refused. */
  ifMatch: boolean;
  handle(ctx: RouteContext<unknown>): Promise<Reply>;
}

export function route<S extends z.ZodType | undefined = undefined>(def: {
  method: Method;
  path: string;
  summary: string;
  tag: string;
  body?: S;
  ok?: 200 | 201 | 202;
  ifMatch?: boolean;
  handle(ctx: RouteContext<S extends z.ZodType ? z.output<S> : undefined>): Promise<Reply>;
}): Route {
  return {
    method: def.method,
    path: def.path,
    summary: def.summary,
    tag: def.tag,
    body: def.body,
    ok: def.ok ?? 200,
    ifMatch: def.ifMatch ?? false,
    handle: def.handle as Route['handle'],
  };
}

interface Compiled {
  route: Route;
  segments: Array<{ literal: string } | { param: string }>;
}

export class Router {
  private readonly compiled: Compiled[];
  readonly routes: readonly Route[];
  private readonly paramSchemas: Readonly<Record<string, z.ZodType>>;
  private readonly onUnexpected: (err: unknown, event: HttpEvent) => void;

  constructor(
    routes: readonly Route[],
    paramSchemas: Readonly<Record<string, z.ZodType>>,
    onUnexpected: (err: unknown, event: HttpEvent) => void,
  ) {
    this.routes = routes;
    this.paramSchemas = paramSchemas;
    this.onUnexpected = onUnexpected;
    this.compiled = routes.map((r) => ({
      route: r,
      segments: split(r.path).map((s) => {
        const m = /^\{(\w+)\}$/.exec(s);
        if (m?.[1] === undefined) return { literal: s };
        if (own(paramSchemas, m[1]) === undefined)
          throw new Error(`route ${r.path}: no schema for {${m[1]}}`);
        return { param: m[1] };
      }),
    }));
  }

  async handle(event: HttpEvent): Promise<HttpResult> {
    try {
      return await this.dispatch(event);
    } catch (err) {
      if (err instanceof ScError) return resultOfError(err);
      this.onUnexpected(err, event);
      return errorResult(500, 'InternalError', 'unexpected error; see the function log');
    }
  }

  private async dispatch(event: HttpEvent): Promise<HttpResult> {
    const method = (event.requestContext?.http?.method ?? '').toUpperCase();
    const parts = literalSegments(event.rawPath ?? '/');
    if (typeof parts === 'string') return errorResult(400, 'ValidationError', parts, 'path');
    let pathMatched = false;
    for (const c of this.compiled) {
      const raw = match(c.segments, parts);
      if (raw === null) continue;
      pathMatched = true;
      if (c.route.method !== method) continue;
      const params: Record<string, string> = {};
      for (const [name, value] of Object.entries(raw)) {
        const parsed = (own(this.paramSchemas, name) as z.ZodType).safeParse(value);
        // The parameter is the failing field (the body's fields are named the same way).
        if (!parsed.success)
          throw new ValidationError(
            'path',
            [{ path: name, message: parsed.error.issues[0]?.message ?? 'invalid' }],
            { cause: parsed.error },
          );
        params[name] = parsed.data as string;
      }
      const ifMatch = readIfMatch(event);
      // Ignoring it would let a client believe its write was conditional.
      if (ifMatch !== null && !c.route.ifMatch)
        throw new ValidationError('header', [
          {
            path: 'If-Match',
            message: `is not taken by ${method} ${c.route.path}: it writes no single versioned item; send it without If-Match`,
          },
        ]);
      let body: unknown;
      if (c.route.body !== undefined) {
        const raw = readBody(event);
        if (raw === undefined)
          throw new ValidationError('request', [{ path: 'body', message: 'is required: a JSON object' }]);
        body = parseOrThrow(c.route.body, raw, 'body');
      }
      const reply = await c.route.handle({
        params,
        body,
        query: Object.fromEntries(
          Object.entries(event.queryStringParameters ?? {}).filter(
            (e): e is [string, string] => e[1] !== undefined,
          ),
        ),
        ifMatch,
      });
      return json(reply.status, reply.body);
    }
    return pathMatched
      ? errorResult(405, 'MethodNotAllowed', `${method} is not allowed on ${event.rawPath}`)
      : errorResult(404, 'NotFound', `no route for ${event.rawPath}`, 'path');
  }
}

function split(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

/**
 * The decoded segments of a raw request path, taken literally: no segment may be
 * empty, `.` or `..` (raw or percent-encoded, any case), or hold `/` or `\` once
 * decoded. Checked before anything is matched: a normalised path would retarget
 * the request (`DELETE /users/u9/apps/..` is not `DELETE /users/u9`).
 * Returns the refusal's message instead when the path is not literal.
 */
export function literalSegments(rawPath: string): string[] | string {
  if (!rawPath.startsWith('/')) return 'path must start with "/"';
  if (rawPath === '/') return [];
  const parts: string[] = [];
  for (const raw of rawPath.slice(1).split('/')) {
    if (raw === '') return 'path has an empty segment ("//" or a trailing "/")';
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return 'path is not valid percent-encoding';
    }
    if (seg === '.' || seg === '..')
      return `path segment "${raw}" is a dot segment: names are taken literally`;
    if (/[/\\]/.test(seg)) return `path segment "${raw}" holds "/" or "\\"`;
    parts.push(seg);
  }
  return parts;
}

function match(
  segments: Array<{ literal: string } | { param: string }>,
  parts: string[],
): Record<string, string> | null {
  if (segments.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as { literal: string } | { param: string };
    const part = parts[i] as string;
    if ('literal' in seg) {
      if (seg.literal !== part) return null;
    } else params[seg.param] = part;
  }
  return params;
}

function readBody(event: HttpEvent): unknown {
  const raw = event.body;
  if (raw === undefined || raw === null || raw === '') return undefined;
  const type = header(event, 'content-type');
  if (type !== undefined && !/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type.trim()))
    throw new UnsupportedMediaTypeError(type);
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES)
    throw new ValidationError('request', [
      { path: 'body', message: `is over ${MAX_BODY_BYTES} bytes (the state store keeps items under 400 KB)` },
    ]);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ValidationError('request', [{ path: 'body', message: 'is not valid JSON' }], { cause: err });
  }
  const problem = jsonProblem(value);
  if (problem !== null)
    throw new ValidationError('request', [
      { path: problem.path === '' ? 'body' : `body.${problem.path}`, message: problem.message },
    ]);
  return value;
}

function readIfMatch(event: HttpEvent): number | null {
  const raw = header(event, 'if-match');
  if (raw === undefined) return null;
  const text = raw.replace(/^W\//, '').replace(/"/g, '').trim();
  if (!/^\d{1,15}$/.test(text))
    throw new ValidationError('header', [{ path: 'If-Match', message: 'must be a version number' }]);
  return Number(text);
}

/** The OpenAPI 3.1 document of the routes, generated from the schemas that validate requests. */
export function openApiDocument(
  routes: readonly Route[],
  paramSchemas: Readonly<Record<string, z.ZodType>>,
  info: { title: string; version: string },
): Record<string, unknown> {
  const schema = (s: z.ZodType) => {
    const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Record<
      string,
      unknown
    >;
    return rest;
  };
  const errorSchema = {
    type: 'object',
    required: ['error', 'message'],
    properties: { error: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } },
  };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: schema(own(paramSchemas, m[1] as string) as z.ZodType),
    }));
    const op: Record<string, unknown> = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method.toLowerCase()}${r.path.replace(/\{(\w+)\}/g, 'By_$1').replace(/[^A-Za-z0-9_]+/g, '_')}`,
      parameters: [
        ...params,
        ...(r.ifMatch
          ? [
              {
                name: 'If-Match',
                in: 'header',
                required: false,
                description: 'Version the item must still have; 409 otherwise.',
                schema: { type: 'string' },
              },
            ]
          : []),
      ],
      responses: {
        [String(r.ok)]: { description: 'OK', content: { 'application/json': { schema: {} } } },
        ...Object.fromEntries(
          [
            ['400', 'Invalid input; `field` names the failing field'],
            ['404', 'Unknown structure or route'],
            ['409', 'Conflicting (concurrent) change'],
          ].map(([code, description]) => [
            code,
            {
              description,
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
            },
          ]),
        ),
      },
    };
    if (r.body !== undefined)
      op.requestBody = { required: true, content: { 'application/json': { schema: schema(r.body) } } };
    paths[r.path] = { ...(own(paths, r.path) ?? {}), [r.method.toLowerCase()]: op };
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    components: {
      schemas: { Error: errorSchema },
      securitySchemes: {
        sigv4: { type: 'apiKey', name: 'Authorization', in: 'header', description: 'AWS IAM (SigV4) on AWS' },
        bearer: { type: 'http', scheme: 'bearer', description: 'SC_API_TOKEN on the local server' },
      },
    },
    security: [{ sigv4: [] }, { bearer: [] }],
  };
}
