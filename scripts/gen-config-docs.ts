/**
 * `npm run docs`: writes docs/configuration.md from the schemas themselves (service
 * configs in core/contracts/service-config.ts, environment schemas listed below), so
 * the documented settings, types, ranges and defaults cannot drift from the checks.
 * A unit test fails when the committed file is not what this prints.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { METRICS_READS_DOC } from '../adapters/metrics/metrics-env.ts';
import { PlatformEnv } from '../adapters/platform-env.ts';
import type { RequestRule } from '../core/contracts/rule.ts';
import { SERVICE_CONFIGS, type ServiceName } from '../core/contracts/service-config.ts';
import { RESOURCE_UNITS } from '../core/contracts/units.ts';
import { DEFAULT_RULES } from '../core/policy/default-rules.ts';
import { ApiEnv } from '../functions/api/wiring.ts';
import { ControlTickEnv } from '../functions/guardian/wiring.ts';
import { OpsEnv } from '../functions/ops/env.ts';
import { AgentEnv } from '../host-agent/config.ts';
import { ROOT } from './package.ts';

export const CONFIG_DOC = join(ROOT, 'docs/configuration.md');

/** Environment schemas of the deployables; add one line per schema. */
const ENV_SCHEMAS: { title: string; readBy: string; schema: z.ZodObject; note?: string }[] = [
  {
    title: 'Platform',
    readBy: '`npm run bootstrap`, `npm start`, `serverless.yml` (passed to every function)',
    schema: PlatformEnv,
  },
  {
    title: 'API',
    readBy: '`functions/handlers/api.ts` (serverless.yml `api`), `npm start`',
    schema: ApiEnv,
  },
  {
    title: 'Control tick',
    readBy: '`functions/handlers/control-tick.ts` (serverless.yml `controlTick`), `npm start` (local loop)',
    schema: ControlTickEnv,
    note: METRICS_READS_DOC,
  },
  {
    title: 'Operations functions',
    readBy: '`functions/handlers/{sanity,snapshoter,rebalancer}.ts` (serverless.yml)',
    schema: OpsEnv,
  },
  {
    title: 'Host agent',
    readBy: '`host-agent/main.ts`, `npm start` (local loop)',
    schema: AgentEnv,
  },
];

const SERVICE_TITLES: Record<ServiceName, string> = {
  guardian: 'Guardian (`guardian`)',
  scaler: 'Scaler (`scaler`)',
  rebalancer: 'ReBalancer (`rebalancer`)',
  snapshoter: 'Database Snapshoter (`snapshoter`)',
  sanity: 'Sanity Checker (`sanity`)',
};

interface JsonSchema {
  type?: string;
  enum?: unknown[];
  items?: JsonSchema;
  minItems?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  pattern?: string;
  propertyNames?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  properties?: Record<string, JsonSchema & { default?: unknown; description?: string }>;
  required?: string[];
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function range(s: JsonSchema): string {
  const lo = s.minimum ?? (s.exclusiveMinimum !== undefined ? `> ${s.exclusiveMinimum}` : undefined);
  const hi = s.maximum !== undefined && s.maximum < MAX_SAFE ? s.maximum : undefined;
  if (lo !== undefined && hi !== undefined)
    return typeof lo === 'number' ? ` ${lo}–${hi}` : ` ${lo}, ≤ ${hi}`;
  if (lo !== undefined) return typeof lo === 'number' ? ` ≥ ${lo}` : ` ${lo}`;
  if (hi !== undefined) return ` ≤ ${hi}`;
  return '';
}

export function describeType(s: JsonSchema): string {
  if (s.enum !== undefined) return `one of ${s.enum.map((v) => `\`${String(v)}\``).join(', ')}`;
  switch (s.type) {
    case 'boolean':
      return 'boolean';
    case 'integer':
      return `integer${range(s)}`;
    case 'number':
      return `number${range(s)}`;
    case 'string':
      return s.pattern === undefined ? 'string' : `string matching \`${s.pattern}\``;
    case 'array': {
      const of = s.items === undefined ? 'values' : describeType(s.items).replace(/^one of /, '');
      return `list of ${of}${s.minItems ? ` (at least ${s.minItems})` : ''}`;
    }
    case 'object': {
      const keys = s.propertyNames?.enum?.map((k) => `\`${String(k)}\``).join(', ') ?? 'string';
      const value = typeof s.additionalProperties === 'object' ? describeType(s.additionalProperties) : 'any';
      return `map of ${keys} → ${value}`;
    }
    default:
      return 'value';
  }
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function table(schema: z.ZodType, nameHeader: string): string {
  const json = z.toJSONSchema(schema, { io: 'input' }) as JsonSchema;
  const rows = Object.entries(json.properties ?? {}).map(([key, prop]) => {
    const def = prop.default === undefined ? '—' : `\`${JSON.stringify(prop.default)}\``;
    return `| \`${key}\` | ${cell(describeType(prop))} | ${cell(def)} | ${cell(prop.description ?? '')} |`;
  });
  return [`| ${nameHeader} | type | default | meaning |`, '|---|---|---|---|', ...rows].join('\n');
}

/** The service-config tables (shared by docs/configuration.md and the README). */
export function renderServiceConfigs(): string {
  const units = Object.entries(RESOURCE_UNITS)
    .map(([r, u]) => `\`${r}\` in ${u}`)
    .join(', ');
  const parts = [
    'Stored in the state table (`SERVICES/<service>`), loaded by `npm run bootstrap` with these',
    'defaults, changed through the API/CLI or `npm run bootstrap -- --config file.json`, and re-read',
    'by the services on every tick. A stored config may omit settings: they take the defaults below.',
    'A malformed value or an unknown setting is refused with an error naming it; nothing is written.',
    `Units: ${units}; times in seconds.`,
    '',
    'Every service reads its config the same way (`adapters/dynamodb/service-config-reader.ts`; the',
    "Guardian's `loadConfig` in `adapters/dynamodb/guardian-store.ts`): the stored settings merged over",
    'the defaults below; when the read fails or the stored document is refused, the last good config',
    'is kept and the failure logged (the Guardian also reports it as a problem of its tick); the read',
    "throws only when there never was a good one (a process's first read; the Guardian starts from the",
    'defaults, so it never throws).',
    '',
    'Example config file: `{ "guardian": { "WINDOW_TIMELAPSE": 10, "EVENT_TIMEOUT": 120 }, "rebalancer": { "ACTIVE": true } }` (a Guardian config under which an active rule could never fire is refused, naming the rule: 10 s windows need `EVENT_TIMEOUT` ≥ 80 for the 8 events of `MemRescaleDown`).',
  ];
  for (const [name, schema] of Object.entries(SERVICE_CONFIGS) as [ServiceName, z.ZodObject][]) {
    parts.push('', `### ${SERVICE_TITLES[name]}`, '', table(schema, 'setting'));
  }
  return parts.join('\n');
}

/** The threshold a request rule compares one event count with (`>=` or `<=`), if it has one. */
function threshold(expr: unknown, op: '>=' | '<=', count: 'up' | 'down'): number | null {
  if (expr === null || typeof expr !== 'object') return null;
  if (Array.isArray(expr)) {
    for (const e of expr) {
      const t = threshold(e, op, count);
      if (t !== null) return t;
    }
    return null;
  }
  for (const [key, args] of Object.entries(expr)) {
    if (
      key === op &&
      Array.isArray(args) &&
      (args[0] as { var?: unknown } | null)?.var === `events.scale.${count}` &&
      typeof args[1] === 'number'
    )
      return args[1];
    const t = threshold(args, op, count);
    if (t !== null) return t;
  }
  return null;
}

/** The default request rules as a table: what each needs, what blocks it, what it asks for. */
export function renderDefaultRules(): string {
  const rows = DEFAULT_RULES.filter((r): r is RequestRule => r.generates === 'requests').map((r) => {
    const other = r.rescale_type === 'up' ? 'down' : 'up';
    const need = threshold(r.rule, '>=', r.rescale_type);
    const block = threshold(r.rule, '<=', other);
    const amount = r.rescale_policy === 'fit_to_usage' ? '—' : `${r.amount} ${RESOURCE_UNITS[r.resource]}`;
    return `| \`${r.name}\` | ${need ?? '?'} ${r.rescale_type} | more than ${block ?? '?'} ${other} | \`${r.rescale_policy}\` | ${amount} |`;
  });
  return [
    'Loaded by `npm run bootstrap` (core/policy/default-rules.ts); changed through the API/CLI',
    '(`sc rule set CpuRescaleUp events-required 2`). Each resource has an event rule',
    '`<res>_exceeded_upper` (window mean usage above `upper`, below `max`) and `<res>_dropped_lower`',
    '(usage below `lower`, `lower` above `min`); a request rule fires when enough events of its',
    'direction are alive (younger than `EVENT_TIMEOUT`) and consumes them.',
    '',
    '**Fast up, slow down.** The original framework needs two events before CpuRescaleUp,',
    'MemRescaleUp and NetRescaleUp; here every up rule fires on one event (one window above `upper`)',
    "while the down rules keep the original's 6 (8 for memory) events — the asymmetry of Kubernetes'",
    'HPA (immediate scale-up, stabilised scale-down). A container pinned at its limit loses work every',
    'window it waits; one noisy window costs one step up, held until six low windows (30 s at the',
    'default 5 s window) fit it back to usage. Reaction at the default config: one window (5 s) earlier.',
    '',
    '**Steps worth an order** (Guardian `SCALE_UP_FIT`, `SCALE_UP_GROWTH`, `SCALE_DOWN_MIN`). Every',
    'scale action is a state write and an SQS order (docs/cost.md), so the Guardian sizes the steps of',
    'the `amount` up rules by what the window shows. Usage within half a margin of `current` fills its',
    'allocation and its demand is unseen: the step is the larger of the rule amount and',
    '`SCALE_UP_GROWTH` × current (1: doubles), so a job needing 350 shares from 105 gets them in two',
    'orders, not four of +75 — never slower. Usage visible below that (above `upper`) is the demand when',
    'it is a level (the previous window was above `lower` too): the step fits it mid-band (as',
    '`fit_to_usage`), where a +75 step wider than the 40-share margin would leave usage under the new',
    '`lower` and bring a scale-down back a minute later. When it rose from under `lower` (an onset: a load',
    'that started mid-window shows only part of itself in that mean), it steps as at its allocation',
    '(never less than the fit), in one order instead of a fit and a growth; without a previous window',
    '(the first tick of a Guardian) it fits. A window under',
    '`lower` counts as a down event only when the scale-down it leads to would free at least',
    '`SCALE_DOWN_MIN` margins: noise just under `lower` neither orders a small cut nor keeps',
    "gathering events. Set the three to `false`, `0`, `0` for the original framework's amounts.",
    '',
    '| request rule | needs events | blocked by | policy | amount |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

export const README = join(ROOT, 'README.md');
const BEGIN = '<!-- config:begin -->';
const END = '<!-- config:end -->';

/** The README with the generated tables between its config markers. */
export function spliceReadme(readme: string): string {
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`README.md needs ${BEGIN} … ${END} markers`);
  return `${readme.slice(0, begin + BEGIN.length)}\n${renderServiceConfigs()}\n${readme.slice(end)}`;
}

export function renderConfigDocs(): string {
  const parts = [
    '# Configuration',
    '',
    '<!-- Generated by `npm run docs` (scripts/gen-config-docs.ts) from the schemas. Do not edit. -->',
    '',
    '## Service configs',
    '',
    renderServiceConfigs(),
    '',
    '## Default rules',
    '',
    renderDefaultRules(),
  ];
  parts.push(
    '',
    '## Environment',
    '',
    'Read once at start against a strict schema; empty values count as unset.',
  );
  for (const env of ENV_SCHEMAS) {
    parts.push('', `### ${env.title}`, '', `Read by ${env.readBy}.`, '', table(env.schema, 'variable'));
    if (env.note !== undefined) parts.push('', env.note);
  }
  parts.push(
    '',
    '### AWS SDK (standard variables)',
    '',
    "Every AWS client is pointed only through the SDK's own variables, so the same code runs on AWS,",
    'on the local emulators and on LocalStack.',
    '',
    '| variable | meaning |',
    '|---|---|',
    '| `AWS_REGION` | region (local platform: `us-east-1`) |',
    '| `AWS_ENDPOINT_URL` | one endpoint for every service (LocalStack: `http://127.0.0.1:4566`) |',
    '| `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SQS` | per-service endpoints (what `npm start` prints) |',
    '| `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` | credentials (any value for the emulators) |',
    '',
    '### LocalStack (`npm run test:localstack`, `localstack/docker-compose.yml`)',
    '',
    '| variable | meaning |',
    '|---|---|',
    '| `LOCALSTACK_TAG` | image tag; default `4.14.0`, the last one that starts without an account |',
    '| `LOCALSTACK_AUTH_TOKEN` | your LocalStack token; required by tags newer than `4.14.0` |',
    '',
  );
  return parts.join('\n');
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(CONFIG_DOC, renderConfigDocs());
  writeFileSync(README, spliceReadme(readFileSync(README, 'utf8')));
  process.stdout.write(`wrote ${CONFIG_DOC} and the tables in ${README}\n`);
}
