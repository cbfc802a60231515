import { jsonProblem } from '../contracts/json-bounds.ts';
import { own } from '../contracts/keyed.ts';
import { type RequestRule, Rule } from '../contracts/rule.ts';
import type { GuardianConfig } from '../contracts/service-config.ts';
import { RESOURCES, type Resource } from '../contracts/units.ts';
import { compileLogic, type Evaluator, truthy } from './guardian/rule-eval.ts';

/**
 * Load-time validation of a scaling rule against the Guardian's config:
 * schema, JSON-Logic operators, variables, and reachability. Pure. The
 * Guardian runs it on every stored rule each tick; the API runs it before
 * storing one. A refused rule is reported with the field and why.
 */

/**
 * Bounds that keep a check cheap and its walk shallow. A rule is stored as one
 * attribute of its item, so its depth stays well under DynamoDB's 32 levels; the
 * recursive walks below never go deeper than this.
 */
export const MAX_RULE_DEPTH = 24;
/** Operators, arguments and constants together: the default rules use under 20. */
export const MAX_RULE_NODES = 400;
/**
 * Reachability evaluates the rule at pairs of event counts: (candidate counts)² ×
 * nodes evaluations at most. Above this the rule is refused rather than checked:
 * about 5 ms of compiled evaluation on this machine's class of CPU, so neither the
 * API nor the tick waits on one rule.
 */
export const CHECK_BUDGET = 500_000;

export type RuleCheckResult = { ok: true; rule: Rule } | { ok: false; field: string; message: string };

/**
 * JSON-Logic operators a rule may use. Left out on purpose: the array
 * operators (map/filter/reduce/all/none/some/merge) that rebind `var`, the
 * string operators, `missing*` and `log` — none of them means anything over
 * numeric usage and event counts.
 */
export const KNOWN_OPERATORS: ReadonlySet<string> = new Set([
  'var',
  'if',
  '?:',
  '==',
  '===',
  '!=',
  '!==',
  '!',
  '!!',
  'or',
  'and',
  '>',
  '>=',
  '<',
  '<=',
  'max',
  'min',
  '+',
  '-',
  '*',
  '/',
  '%',
]);

/**
 * How many arguments each operator takes, [least, most] (`var` is checked on its own). JSON-Logic
 * itself never refuses a wrong count: `{">": [x]}` compares x with undefined and is always false,
 * so such a rule would be stored and never fire.
 */
const ARITY: Readonly<Record<string, readonly [number, number]>> = {
  if: [2, Number.POSITIVE_INFINITY],
  '?:': [3, 3],
  '==': [2, 2],
  '===': [2, 2],
  '!=': [2, 2],
  '!==': [2, 2],
  '!': [1, 1],
  '!!': [1, 1],
  or: [1, Number.POSITIVE_INFINITY],
  and: [1, Number.POSITIVE_INFINITY],
  '>': [2, 2],
  '>=': [2, 2],
  '<': [2, 3],
  '<=': [2, 3],
  max: [1, Number.POSITIVE_INFINITY],
  min: [1, Number.POSITIVE_INFINITY],
  '+': [1, Number.POSITIVE_INFINITY],
  '-': [1, 2],
  '*': [1, Number.POSITIVE_INFINITY],
  '/': [2, 2],
  '%': [2, 2],
};

function arityText([least, most]: readonly [number, number]): string {
  if (least === most) return `${least} argument${least === 1 ? '' : 's'}`;
  return most === Number.POSITIVE_INFINITY
    ? `at least ${least} argument${least === 1 ? '' : 's'}`
    : `${least} to ${most} arguments`;
}

export const STRUCTURE_FIELDS = ['max', 'min', 'current', 'usage'] as const;
export const LIMIT_FIELDS = ['upper', 'lower', 'boundary'] as const;
export const EVENT_COUNT_VARIABLES = ['events.scale.up', 'events.scale.down'] as const;

/** Every variable an event rule may read, with the resource it belongs to. */
export const EVENT_RULE_VARIABLES: ReadonlyMap<string, Resource> = new Map(
  RESOURCES.flatMap((res) => [
    ...STRUCTURE_FIELDS.map((f) => [`${res}.structure.${res}.${f}`, res] as const),
    ...LIMIT_FIELDS.map((f) => [`${res}.limits.${res}.${f}`, res] as const),
  ]),
);

/** How many events of one kind can be alive at once: one per window within EVENT_TIMEOUT. */
export function maxLiveEvents(config: Pick<GuardianConfig, 'EVENT_TIMEOUT' | 'WINDOW_TIMELAPSE'>): number {
  return Math.floor(config.EVENT_TIMEOUT / config.WINDOW_TIMELAPSE);
}

type Fail = { ok: false; field: string; message: string };
const fail = (field: string, message: string): Fail => ({ ok: false, field, message });

function pathText(path: readonly PropertyKey[]): string {
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
    .join('.')
    .replace(/\.\[/g, '[');
}

/** Walk an expression: operators known, each operator object has one key, `var` names allowed. */
function checkExpr(
  expr: unknown,
  field: string,
  allowed: (name: string) => string | null,
  vars: string[],
  constants: number[],
): Fail | null {
  if (expr === null || typeof expr === 'boolean' || typeof expr === 'string') return null;
  if (typeof expr === 'number') {
    if (!Number.isFinite(expr)) return fail(field, 'numbers must be finite');
    constants.push(expr);
    return null;
  }
  if (Array.isArray(expr)) {
    for (const [i, e] of expr.entries()) {
      const f = checkExpr(e, `${field}[${i}]`, allowed, vars, constants);
      if (f) return f;
    }
    return null;
  }
  if (typeof expr !== 'object') return fail(field, 'is not a JSON-Logic expression');
  const keys = Object.keys(expr);
  if (keys.length !== 1)
    return fail(field, `an operation must have exactly one operator, found ${keys.length}`);
  const op = keys[0] as string;
  if (!KNOWN_OPERATORS.has(op)) {
    return fail(field, `unknown operator "${op}" (known: ${[...KNOWN_OPERATORS].join(' ')})`);
  }
  const arg = own(expr as Record<string, unknown>, op);
  if (op === 'var') {
    const name = Array.isArray(arg) ? arg[0] : arg;
    if (typeof name !== 'string') return fail(`${field}.var`, 'variable name must be a string');
    const why = allowed(name);
    if (why !== null) return fail(`${field}.var`, why);
    vars.push(name);
    if (Array.isArray(arg) && arg.length > 2)
      return fail(`${field}.var`, 'takes a name and at most a default');
    const dflt: unknown = Array.isArray(arg) ? arg[1] : undefined;
    if (dflt !== undefined && dflt !== null && typeof dflt === 'object')
      return fail(`${field}.var[1]`, 'a default must be a number, a string, a boolean or null');
    if (typeof dflt === 'number' && !Number.isFinite(dflt))
      return fail(`${field}.var[1]`, 'numbers must be finite');
    return null;
  }
  const arity = own(ARITY, op);
  // a single non-array argument is one argument ({"!": x} is {"!": [x]})
  const count = Array.isArray(arg) ? arg.length : 1;
  if (arity !== undefined && (count < arity[0] || count > arity[1]))
    return fail(`${field}.${op}`, `takes ${arityText(arity)}, found ${count}`);
  return checkExpr(arg, `${field}.${op}`, allowed, vars, constants);
}

function eventVariableCheck(rule: { resource: Resource }, config: GuardianConfig) {
  return (name: string): string | null => {
    const res = EVENT_RULE_VARIABLES.get(name);
    if (res === undefined) {
      return `unknown variable "${name}"; event rules read <res>.structure.<res>.{${STRUCTURE_FIELDS.join(',')}} and <res>.limits.<res>.{${LIMIT_FIELDS.join(',')}}`;
    }
    if (res !== rule.resource && !config.GUARDABLE_RESOURCES.includes(res)) {
      return `variable "${name}" reads ${res}, which is not in GUARDABLE_RESOURCES (${config.GUARDABLE_RESOURCES.join(',')}); the rule could never fire`;
    }
    return null;
  };
}

function requestVariableCheck(name: string): string | null {
  return (EVENT_COUNT_VARIABLES as readonly string[]).includes(name)
    ? null
    : `unknown variable "${name}"; request rules read ${EVENT_COUNT_VARIABLES.join(' and ')}`;
}

/** Event counts worth trying: the whole range when affordable, else the ends and both sides of every constant. */
function candidateCounts(constants: readonly number[], max: number, nodes: number): number[] {
  if (max <= 64 && (max + 1) ** 2 * nodes <= CHECK_BUDGET)
    return Array.from({ length: max + 1 }, (_, i) => i);
  const set = new Set<number>([0, 1, max]);
  for (const c of constants) {
    for (const x of [Math.floor(c) - 1, Math.floor(c), Math.ceil(c), Math.ceil(c) + 1]) {
      if (x >= 0 && x <= max) set.add(x);
    }
  }
  return [...set].sort((a, b) => a - b);
}

/** Operators, arguments and constants of an expression, counted without recursion (stops past `limit`). */
function countNodes(expr: unknown, limit: number): number {
  let n = 0;
  const stack: unknown[] = [expr];
  while (stack.length > 0 && n <= limit) {
    const e = stack.pop();
    n++;
    if (Array.isArray(e)) stack.push(...e);
    else if (e !== null && typeof e === 'object')
      for (const k of Object.keys(e)) stack.push(own(e as Record<string, unknown>, k));
  }
  return n;
}

function truthyAt(rule: Evaluator, up: number, down: number): boolean {
  return truthy(rule({ events: { scale: { up, down } } }));
}

function checkRequestRule(
  rule: RequestRule,
  constants: readonly number[],
  nodes: number,
  config: GuardianConfig,
): Fail | null {
  if (rule.rescale_policy !== 'fit_to_usage') {
    if (rule.amount === 0) return fail('amount', `must not be 0 with rescale_policy ${rule.rescale_policy}`);
    if (rule.amount > 0 !== (rule.rescale_type === 'up')) {
      return fail(
        'amount',
        `must be ${rule.rescale_type === 'up' ? 'positive' : 'negative'} for a scale-${rule.rescale_type} rule`,
      );
    }
  }
  if (rule.events_to_remove < 1) {
    return fail(
      'events_to_remove',
      'must be ≥ 1, or the rule fires on every tick without consuming its events',
    );
  }
  const max = maxLiveEvents(config);
  const evaluate = compileLogic(rule.rule);
  if (truthyAt(evaluate, 0, 0)) return fail('rule', 'fires with no events at all');
  const counts = candidateCounts(constants, max, nodes);
  if (counts.length ** 2 * nodes > CHECK_BUDGET)
    return fail(
      'rule',
      `too costly to check: ${counts.length} candidate event counts from ${new Set(constants).size} distinct constants over ${nodes} nodes; use fewer distinct constants`,
    );
  // The least count of the rule's own direction at which some count of the other makes it fire.
  let need = Number.POSITIVE_INFINITY;
  for (const mine of counts) {
    for (const other of counts) {
      const fires =
        rule.rescale_type === 'up' ? truthyAt(evaluate, mine, other) : truthyAt(evaluate, other, mine);
      if (fires) {
        need = mine;
        break;
      }
    }
    if (need !== Number.POSITIVE_INFINITY) break;
  }
  const window = `EVENT_TIMEOUT ${config.EVENT_TIMEOUT} s / WINDOW_TIMELAPSE ${config.WINDOW_TIMELAPSE} s = ${max} events`;
  if (need === Number.POSITIVE_INFINITY) {
    return fail('rule', `can never fire: no event counts up to ${max} satisfy it (${window})`);
  }
  if (need === 0) {
    return fail(
      'rule',
      `fires without any ${rule.rescale_type} events; a scale-${rule.rescale_type} rule must require some`,
    );
  }
  if (rule.events_to_remove > need) {
    return fail(
      'events_to_remove',
      `${rule.events_to_remove} exceeds the ${need} ${rule.rescale_type} events the rule requires`,
    );
  }
  if (rule.events_to_remove * config.WINDOW_TIMELAPSE > config.EVENT_TIMEOUT) {
    return fail(
      'events_to_remove',
      `${rule.events_to_remove} × ${config.WINDOW_TIMELAPSE} s > EVENT_TIMEOUT ${config.EVENT_TIMEOUT} s: can never fire`,
    );
  }
  return null;
}

export function checkRule(rule: unknown, config: GuardianConfig): RuleCheckResult {
  const parsed = Rule.safeParse(rule);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail(issue ? pathText(issue.path) : '', issue?.message ?? 'invalid rule');
  }
  const r = parsed.data;
  // Bounded before any recursive walk: depth first (iteratively), then size.
  const deep = jsonProblem(r.rule, MAX_RULE_DEPTH);
  if (deep !== null)
    return fail('rule', `nests deeper than ${MAX_RULE_DEPTH} levels (rules are kept shallow)`);
  const nodes = countNodes(r.rule, MAX_RULE_NODES);
  if (nodes > MAX_RULE_NODES) return fail('rule', `has more than ${MAX_RULE_NODES} operators and values`);
  const vars: string[] = [];
  const constants: number[] = [];
  const allowed = r.generates === 'events' ? eventVariableCheck(r, config) : requestVariableCheck;
  const exprFail = checkExpr(r.rule, 'rule', allowed, vars, constants);
  if (exprFail) return exprFail;
  if (vars.length === 0) return fail('rule', 'reads no variables, so its outcome never changes');
  if (r.generates === 'requests') {
    const reqFail = checkRequestRule(r, constants, nodes, config);
    if (reqFail) return reqFail;
  }
  return { ok: true, rule: r };
}

/**
 * The last check result of each rule under each config: the Guardian and the
 * sanity sweep check every stored rule each run, and an unchanged rule keeps its
 * result instead of being checked again. Bounded (oldest dropped first).
 */
export class RuleCheckCache {
  private readonly results = new Map<string, RuleCheckResult>();
  private readonly capacity: number;
  constructor(capacity = 1024) {
    this.capacity = capacity;
  }

  check(rule: unknown, config: GuardianConfig): RuleCheckResult {
    const key = JSON.stringify([rule, config]);
    const hit = this.results.get(key);
    if (hit !== undefined) return hit;
    const result = checkRule(rule, config);
    if (this.results.size >= this.capacity) {
      const oldest = this.results.keys().next();
      if (oldest.done !== true) this.results.delete(oldest.value);
    }
    this.results.set(key, result);
    return result;
  }
}
