/**
 * Bounds on every JSON value the platform stores. DynamoDB refuses an item nested
 * deeper than 32 levels or larger than 400 KB, and a recursive walker (a checker,
 * a marshaller) overflows its stack long before a hostile value runs out; so the
 * API refuses such values at its boundary with a clear 400, with one iterative walk.
 */

/** DynamoDB's nesting limit; a request body counts as level 1 (its fields become the item's attributes). */
export const MAX_JSON_DEPTH = 32;
/** Under DynamoDB's 400 KB item limit, leaving room for the item's keys and bookkeeping. */
export const MAX_BODY_BYTES = 300 * 1024;
/** Keys that a JavaScript object treats as structure, never as data. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__']);

export interface JsonProblem {
  /** Dot path of the offending value ('' for the root). */
  path: string;
  message: string;
}

/**
 * The first problem of a parsed JSON value: nesting deeper than `maxDepth` (objects
 * and arrays count one level each) or a forbidden key. Iterative: a value nested
 * 100,000 deep costs a walk, not a stack overflow.
 */
export function jsonProblem(value: unknown, maxDepth: number = MAX_JSON_DEPTH): JsonProblem | null {
  const stack: Array<{ v: unknown; depth: number; path: string }> = [{ v: value, depth: 1, path: '' }];
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop() as { v: unknown; depth: number; path: string };
    if (v === null || typeof v !== 'object') continue;
    if (depth > maxDepth)
      return { path, message: `nests deeper than ${maxDepth} levels (the state store's limit)` };
    const at = (k: string) => (path === '' ? k : `${path}.${k}`);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push({ v: v[i], depth: depth + 1, path: at(String(i)) });
      continue;
    }
    for (const k of Object.keys(v)) {
      if (FORBIDDEN_KEYS.has(k)) return { path: at(k), message: `"${k}" is not allowed as a key` };
      stack.push({ v: Object.getOwnPropertyDescriptor(v, k)?.value, depth: depth + 1, path: at(k) });
    }
  }
  return null;
}
