/**
 * The rule-update functions: list, read, activate, deactivate, change amount,
 * rescale policy and events required; create and delete custom rules. Every
 * rule is checked by the Guardian's rule checker (schema, variables,
 * reachability under the current Guardian config) before it is stored.
 */

import type { JsonLogicExpr, RequestRule, Rule, ScaleDirection } from '../../../core/contracts/rule.ts';
import { Rule as RuleSchema } from '../../../core/contracts/rule.ts';
import { defaultConfig, GuardianConfig } from '../../../core/contracts/service-config.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../../core/errors.ts';
import { DEFAULT_RULES } from '../../../core/policy/default-rules.ts';
import type { ApiDeps } from '../deps.ts';
import { type Route, route } from '../router.ts';
import { AmountInput, EventsRequiredInput, PolicyInput } from '../schemas.ts';

const DEFAULT_NAMES = new Set(DEFAULT_RULES.map((r) => r.name));

export async function guardianConfig(deps: ApiDeps): Promise<GuardianConfig> {
  const doc = await deps.services.get('guardian');
  const parsed = GuardianConfig.safeParse(doc?.config ?? {});
  return parsed.success ? parsed.data : defaultConfig('guardian');
}

/** Check with the Guardian's checker, or throw a 400 naming the failing field. */
export async function checked(deps: ApiDeps, rule: Rule, what = 'rule'): Promise<Rule> {
  const out = deps.checkRule(rule, await guardianConfig(deps));
  if (!out.ok) throw new ValidationError(what, [{ path: out.field, message: out.message }]);
  return out.rule;
}

/** Rewrite the threshold compared with events.scale.<direction>; null if the rule has none. */
export function withThreshold(
  expr: JsonLogicExpr,
  direction: ScaleDirection,
  value: number,
): JsonLogicExpr | null {
  let found = false;
  const target = `events.scale.${direction}`;
  const walk = (e: unknown): unknown => {
    if (Array.isArray(e)) return e.map(walk);
    if (e === null || typeof e !== 'object') return e;
    const entries = Object.entries(e as Record<string, unknown>);
    if (entries.length === 1) {
      const [op, args] = entries[0] as [string, unknown];
      if (
        ['>=', '>', '<=', '<', '==', '==='].includes(op) &&
        Array.isArray(args) &&
        args.length === 2 &&
        typeof args[1] === 'number' &&
        typeof args[0] === 'object' &&
        args[0] !== null &&
        (args[0] as { var?: unknown }).var === target
      ) {
        found = true;
        return { [op]: [args[0], value] };
      }
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, walk(v)]));
  };
  const next = walk(expr) as JsonLogicExpr;
  return found ? next : null;
}

function requestRule(rule: Rule, field: string): RequestRule {
  if (rule.generates !== 'requests')
    throw new ValidationError('rule', [
      { path: field, message: `${rule.name} is an event rule; only request rules have a ${field}` },
    ]);
  return rule;
}

export function ruleRoutes(deps: ApiDeps): Route[] {
  const { rules } = deps;
  const require = async (name: string) => {
    const rule = await rules.get(name);
    if (rule === null) throw new NotFoundError(`rule ${name} not found`);
    return rule;
  };
  /** Change a stored rule, check it, store it; unchanged → no write. */
  const change = (
    path: string,
    summary: string,
    body: Parameters<typeof route>[0]['body'],
    edit: (r: Rule, b: never) => Rule,
  ) =>
    route({
      method: 'PUT',
      path,
      tag: 'rules',
      summary,
      body,
      async handle({ params, body: b }) {
        const rule = await require(params.rule as string);
        const next = edit(structuredClone(rule), b as never);
        if (JSON.stringify(next) === JSON.stringify(rule)) return { status: 200, body: rule };
        const ok = await checked(deps, next);
        await rules.put(ok);
        return { status: 200, body: ok };
      },
    });

  return [
    route({
      method: 'GET',
      path: '/rules',
      tag: 'rules',
      summary: 'List rules',
      async handle() {
        return { status: 200, body: (await rules.list()).sort((a, b) => a.name.localeCompare(b.name)) };
      },
    }),
    route({
      method: 'GET',
      path: '/rules/{rule}',
      tag: 'rules',
      summary: 'One rule',
      async handle({ params }) {
        return { status: 200, body: await require(params.rule as string) };
      },
    }),
    route({
      method: 'PUT',
      path: '/rules/{rule}',
      tag: 'rules',
      summary: 'Create or replace a rule; checked (schema, variables, reachability) before it is stored',
      body: RuleSchema,
      ok: 201,
      async handle({ params, body }) {
        if (body.name !== params.rule)
          throw new ValidationError('body', [
            { path: 'name', message: `must equal the rule in the path (${params.rule})` },
          ]);
        const ok = await checked(deps, body, 'body');
        const existed = (await rules.get(body.name)) !== null;
        await rules.put(ok);
        return { status: existed ? 200 : 201, body: ok };
      },
    }),
    route({
      method: 'DELETE',
      path: '/rules/{rule}',
      tag: 'rules',
      summary: 'Delete a custom rule (default rules can only be deactivated)',
      async handle({ params }) {
        const name = params.rule as string;
        await require(name);
        if (DEFAULT_NAMES.has(name))
          throw new ConflictError(`${name} is a default rule: deactivate it instead`, {
            context: { field: 'rule' },
          });
        await rules.remove(name);
        return { status: 200, body: { deleted: name } };
      },
    }),
    change('/rules/{rule}/activate', 'Activate a rule', undefined, (r) => ({ ...r, active: true })),
    change('/rules/{rule}/deactivate', 'Deactivate a rule', undefined, (r) => ({ ...r, active: false })),
    change('/rules/{rule}/amount', "Set a request rule's amount", AmountInput, (r, b: { value: number }) => ({
      ...requestRule(r, 'amount'),
      amount: b.value,
    })),
    change(
      '/rules/{rule}/policy',
      "Set a request rule's rescale policy (fit_to_usage only scales down)",
      PolicyInput,
      (r, b: { value: RequestRule['rescale_policy'] }) => {
        const rule = requestRule(r, 'rescale_policy');
        if (b.value === 'fit_to_usage' && rule.rescale_type === 'up')
          throw new ValidationError('body', [
            { path: 'value', message: 'fit_to_usage is for scale-down rules only' },
          ]);
        return { ...rule, rescale_policy: b.value };
      },
    ),
    change(
      '/rules/{rule}/events-required',
      'Set how many events a request rule needs (its own direction also sets events_to_remove)',
      EventsRequiredInput,
      (r, b: { value: number; direction?: ScaleDirection | undefined }) => {
        const rule = requestRule(r, 'events_to_remove');
        const direction = b.direction ?? rule.rescale_type;
        const expr = withThreshold(rule.rule, direction, b.value);
        if (expr === null)
          throw new ValidationError('body', [
            { path: 'direction', message: `rule ${rule.name} has no threshold on events.scale.${direction}` },
          ]);
        // Only the rule's own direction is how many events it consumes (the original also overwrote it for the opposite cap).
        return {
          ...rule,
          rule: expr,
          events_to_remove: direction === rule.rescale_type ? b.value : rule.events_to_remove,
        };
      },
    ),
  ];
}
