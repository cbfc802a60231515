import type { z } from 'zod';

export type ErrorContext = Record<string, string | number | boolean | null | undefined>;

/** Base of every error the product raises on purpose. Subclasses set `name`. */
export class ScError extends Error {
  override name = 'ScError';
  readonly context: ErrorContext;
  constructor(message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.context = options.context ?? {};
  }
}

/** Bad input at a boundary: names the failing field; nothing was changed. */
export class ValidationError extends ScError {
  override name = 'ValidationError';
  readonly field: string;
  readonly issues: readonly { path: string; message: string }[];
  constructor(
    what: string,
    issues: readonly { path: string; message: string }[],
    options: { cause?: unknown } = {},
  ) {
    const first = issues[0] ?? { path: '', message: 'invalid' };
    const where = first.path === '' ? what : `${what}.${first.path}`;
    super(`invalid ${where}: ${first.message}`, { ...options, context: { field: first.path } });
    this.field = first.path;
    this.issues = issues;
  }
}

/** A conditional write lost against a newer version; carries the item as it is now (null if gone). */
export class StaleStateError<T = unknown> extends ScError {
  override name = 'StaleStateError';
  readonly current: T | null;
  constructor(message: string, current: T | null, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super(message, options);
    this.current = current;
  }
}

export class NotFoundError extends ScError {
  override name = 'NotFoundError';
}

export class ConflictError extends ScError {
  override name = 'ConflictError';
}

function issuePath(path: readonly PropertyKey[]): string {
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
    .join('.')
    .replace(/\.\[/g, '[');
}

/** Parse `value` with `schema`, or throw a ValidationError naming `what` and the first failing field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ValidationError(
    what,
    result.error.issues.flatMap((i) =>
      // An unknown key is reported at its parent; name the key itself.
      i.code === 'unrecognized_keys'
        ? i.keys.map((k) => ({ path: issuePath([...i.path, k]), message: 'unknown setting' }))
        : [{ path: issuePath(i.path), message: i.message }],
    ),
    { cause: result.error },
  );
}
