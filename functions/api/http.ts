/**
 * The wire shapes the API speaks: API Gateway HTTP API (payload v2) events in,
 * JSON results out, and the one mapping from typed errors to status codes.
 */
import {
  ConflictError,
  NotFoundError,
  ScError,
  StaleStateError,
  ValidationError,
} from '../../core/errors.ts';

/** The parts of an API Gateway HTTP API v2 event the router reads. */
export interface HttpEvent {
  version?: string;
  routeKey?: string;
  rawPath: string;
  rawQueryString?: string;
  headers?: Record<string, string | undefined>;
  queryStringParameters?: Record<string, string | undefined>;
  body?: string | null;
  isBase64Encoded?: boolean;
  requestContext: {
    http: { method: string; path?: string; sourceIp?: string };
    requestId?: string;
    authorizer?: unknown;
  };
}

export interface HttpResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export interface ErrorBody {
  error: string;
  message: string;
  /** The failing field of the request (dot path), when one is to blame. */
  field?: string;
}

export function json(statusCode: number, body: unknown): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(body),
  };
}

export function errorResult(statusCode: number, error: string, message: string, field?: string): HttpResult {
  const body: ErrorBody = { error, message };
  if (field !== undefined && field !== '') body.field = field;
  return json(statusCode, body);
}

/** A request body in a media type other than JSON (`text/plain`, a form): 415, nothing read. */
export class UnsupportedMediaTypeError extends ScError {
  override name = 'UnsupportedMediaType';
  constructor(type: string) {
    super(`content-type "${type}" is not accepted: send application/json`, {
      context: { field: 'content-type' },
    });
  }
}

/** Typed error → status: 400 bad input, 404 unknown structure, 409 conflicting (concurrent) change. */
export function statusOf(err: unknown): number | null {
  if (err instanceof ValidationError) return 400;
  if (err instanceof UnsupportedMediaTypeError) return 415;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof StaleStateError || err instanceof ConflictError) return 409;
  if (err instanceof ScError) return 400;
  return null;
}

export function resultOfError(err: ScError): HttpResult {
  const status = statusOf(err) ?? 500;
  const field = err instanceof ValidationError ? err.field : (err.context.field as string | undefined);
  return errorResult(status, err.name, err.message, field ?? undefined);
}

export function header(event: HttpEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === wanted) return v;
  return undefined;
}
