/**
 * Parses process configuration from environment variables, once, against a
 * strict schema: empty values count as missing, numbers are coerced by the
 * schema (use z.coerce), unknown SC_* variables are refused, the result is frozen.
 */
import type { z } from 'zod';
import { parseOrThrow } from '../core/errors.ts';

export function readEnvConfig<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined>,
  what: string,
  opts: { ownPrefix?: string } = {},
): Readonly<z.infer<S>> {
  const known = new Set(Object.keys(schema.shape));
  const present: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || v === '') continue;
    if (known.has(k)) present[k] = v;
    else if (opts.ownPrefix !== undefined && k.startsWith(opts.ownPrefix)) {
      throw new Error(`${what}: unknown setting ${k} (known: ${[...known].sort().join(', ')})`);
    }
  }
  return Object.freeze(parseOrThrow(schema, present, what));
}
