import { own } from '../../contracts/keyed.ts';
import type { Resource } from '../../contracts/units.ts';
import type { EventCounts } from './events.ts';

/**
 * JSON-Logic evaluation of rules, over data shaped exactly as the original
 * Guardian builds it so its rule texts work unchanged:
 *   event rules:   { <res>: { structure: { <res>: {max,min,current,usage} }, limits: { <res>: {upper,lower,boundary} } } }
 *   request rules: { events: { scale: { up, down } } }
 *
 * Rules are compiled once per load into closures with json-logic-js's
 * semantics for the operator subset rule-check.ts admits (same coercions,
 * same `and`/`or` results, same truthiness); the tests check the two agree.
 * Interpreting the tree per structure is what would cap the tick's throughput.
 */

export type Evaluator = (data: unknown) => unknown;

/** JSON-Logic truthiness: an empty array is false, otherwise JavaScript's. */
export function truthy(v: unknown): boolean {
  if (Array.isArray(v) && v.length === 0) return false;
  return !!v;
}

/** Turns a constant variable path into a getter over the data the compiled rule will be given. */
export type VarResolver = (path: string, notFound: unknown) => Evaluator;

/** JSON-Logic's own lookup: walk the dotted path through nested objects. */
export const lookupResolver: VarResolver = (path, notFound) => {
  const parts = path.split('.');
  return (data) => lookup(data, parts, notFound);
};

function compileVar(arg: unknown, resolve: VarResolver): Evaluator {
  const [nameExpr, dflt] = Array.isArray(arg) ? arg : [arg];
  const notFound = dflt === undefined ? null : dflt;
  if (nameExpr === undefined || nameExpr === '' || nameExpr === null) return (data) => data;
  if (typeof nameExpr === 'object') {
    const name = compileLogic(nameExpr, resolve);
    return (data) => lookup(data, String(name(data)).split('.'), notFound);
  }
  return resolve(String(nameExpr), notFound);
}

function lookup(data: unknown, parts: readonly string[], notFound: unknown): unknown {
  let d = data;
  for (const p of parts) {
    if (d === null || d === undefined) return notFound;
    d = own(d as Record<string, unknown>, p);
    if (d === undefined) return notFound;
  }
  return d;
}

type Op = (...args: unknown[]) => unknown;
// biome-ignore lint/suspicious/noExplicitAny: JSON-Logic's comparisons coerce like JavaScript's, on purpose
type Loose = any;
const OPS: Record<string, Op> = {
  // biome-ignore lint/suspicious/noDoubleEquals: JSON-Logic '==' is loose equality
  '==': (a, b) => a == b,
  '===': (a, b) => a === b,
  // biome-ignore lint/suspicious/noDoubleEquals: JSON-Logic '!=' is loose inequality
  '!=': (a, b) => a != b,
  '!==': (a, b) => a !== b,
  '>': (a: Loose, b: Loose) => a > b,
  '>=': (a: Loose, b: Loose) => a >= b,
  '<': (a: Loose, b: Loose, c: Loose) => (c === undefined ? a < b : a < b && b < c),
  '<=': (a: Loose, b: Loose, c: Loose) => (c === undefined ? a <= b : a <= b && b <= c),
  '!!': (a) => truthy(a),
  '!': (a) => !truthy(a),
  '%': (a: Loose, b: Loose) => a % b,
  '+': (...xs) =>
    xs.reduce((a: number, b) => Number.parseFloat(a as Loose) + Number.parseFloat(b as Loose), 0),
  '*': (...xs) => xs.reduce((a, b) => Number.parseFloat(a as Loose) * Number.parseFloat(b as Loose)),
  '-': (a: Loose, b: Loose) => (b === undefined ? -a : a - b),
  '/': (a: Loose, b: Loose) => a / b,
  min: (...xs) => Math.min(...(xs as number[])),
  max: (...xs) => Math.max(...(xs as number[])),
};

/** Compile a JSON-Logic expression (operators as admitted by rule-check.ts). Throws on others. */
export function compileLogic(expr: unknown, resolve: VarResolver = lookupResolver): Evaluator {
  if (Array.isArray(expr)) {
    const items = expr.map((e) => compileLogic(e, resolve));
    return (data) => items.map((f) => f(data));
  }
  if (expr === null || typeof expr !== 'object' || Object.keys(expr).length !== 1) {
    return () => expr;
  }
  const op = Object.keys(expr)[0] as string;
  const raw = own(expr as Record<string, unknown>, op);
  if (op === 'var') return compileVar(raw, resolve);
  const args = (Array.isArray(raw) ? raw : [raw]).map((e) => compileLogic(e, resolve));
  if (op === 'and' || op === 'or') {
    const wantTruthy = op === 'or';
    return (data) => {
      let current: unknown;
      for (const f of args) {
        current = f(data);
        if (truthy(current) === wantTruthy) return current;
      }
      return current;
    };
  }
  if (op === 'if' || op === '?:') {
    return (data) => {
      let i = 0;
      for (; i < args.length - 1; i += 2) {
        if (truthy((args[i] as Evaluator)(data))) return (args[i + 1] as Evaluator)(data);
      }
      return args.length === i + 1 ? (args[i] as Evaluator)(data) : null;
    };
  }
  const fn = own(OPS, op);
  if (fn === undefined) throw new Error(`unsupported JSON-Logic operator "${op}"`);
  if (args.length === 2) {
    const [a, b] = args as [Evaluator, Evaluator];
    return (data) => fn(a(data), b(data));
  }
  return (data) => fn(...args.map((f) => f(data)));
}

/** One resource's values as event rules see them. */
export interface ResourceView {
  max: number;
  min: number;
  current: number;
  usage: number;
  upper: number;
  lower: number;
  boundary: number;
}

/** The original's event-rule data object, one entry per useful resource. */
export function eventRuleData(views: ReadonlyMap<Resource, ResourceView>): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const [res, v] of views) {
    data[res] = {
      structure: { [res]: { max: v.max, min: v.min, current: v.current, usage: v.usage } },
      limits: { [res]: { upper: v.upper, lower: v.lower, boundary: v.boundary } },
    };
  }
  return data;
}

const VIEW_PATH = /^([a-z_]+)\.(structure|limits)\.([a-z_]+)\.([a-z_]+)$/;

/**
 * Event-rule variables read straight from a Map<Resource, ResourceView>, the
 * same values eventRuleData would nest (`<res>.structure.<res>.usage` → view.usage),
 * without building that object per structure. Other paths fall back to null/default.
 */
export const viewResolver: VarResolver = (path, notFound) => {
  const m = VIEW_PATH.exec(path);
  const structureFields = ['max', 'min', 'current', 'usage'];
  const limitFields = ['upper', 'lower', 'boundary'];
  if (m === null || m[1] !== m[3]) return () => notFound;
  const res = m[1] as Resource;
  const field = m[4] as keyof ResourceView;
  const allowed = m[2] === 'structure' ? structureFields : limitFields;
  if (!allowed.includes(field)) return () => notFound;
  return (data) => {
    const v = (data as ReadonlyMap<Resource, ResourceView>).get(res);
    return v === undefined ? notFound : v[field];
  };
};

/** Request-rule variables read straight from an EventCounts. */
export const countsResolver: VarResolver = (path, notFound) => {
  if (path === 'events.scale.up') return (data) => (data as EventCounts).up;
  if (path === 'events.scale.down') return (data) => (data as EventCounts).down;
  return () => notFound;
};

export function requestRuleData(counts: EventCounts): { events: { scale: EventCounts } } {
  return { events: { scale: { up: counts.up, down: counts.down } } };
}
