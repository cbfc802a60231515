/**
 * Services (config with typed values, heartbeats), manual scaling requests
 * (through the planner, like the Guardian's) and the status table of `sc status`.
 */

import { z } from 'zod';
import { recentActivity } from '../../../adapters/dynamodb/activity.ts';
import { GuardState } from '../../../core/contracts/guard-state.ts';
import { HostState } from '../../../core/contracts/host.ts';
import { hasOwn, own } from '../../../core/contracts/keyed.ts';
import { HostName } from '../../../core/contracts/names.ts';
import { AgentReport } from '../../../core/contracts/report.ts';
import { SERVICE_CONFIGS, type ServiceName } from '../../../core/contracts/service-config.ts';
import { GSI1_KINDS, keys } from '../../../core/contracts/table-layout.ts';
import type { Resource } from '../../../core/contracts/units.ts';
import { NotFoundError, parseOrThrow, StaleStateError, ValidationError } from '../../../core/errors.ts';
import { hostTotal } from '../../../core/policy/planner/capacity.ts';
import { serviceHeartbeatStale } from '../../../core/policy/sanity-findings.ts';
import type { ApiDeps } from '../deps.ts';
import { type Route, route } from '../router.ts';
import { ConfigPatch, ManualRequest } from '../schemas.ts';
import { submit } from '../service.ts';
import { stripKeys } from '../store.ts';

const SERVICES = Object.keys(SERVICE_CONFIGS) as ServiceName[];

async function serviceView(deps: ApiDeps, name: ServiceName) {
  const doc = await deps.services.get(name);
  const stored = doc?.config ?? {};
  const parsed = SERVICE_CONFIGS[name].safeParse(stored);
  return {
    name,
    config: parsed.success ? parsed.data : stored,
    valid: parsed.success,
    stored,
    heartbeat: doc?.heartbeat ?? null,
    /** Active, and no heartbeat for three periods (or ever): its loop may have died. */
    stale: serviceHeartbeatStale(
      parsed.success ? parsed.data : stored,
      doc?.heartbeat ?? null,
      deps.clock.now(),
    ),
    version: doc?.version ?? 0,
  };
}

async function setConfig(
  deps: ApiDeps,
  name: ServiceName,
  patch: Record<string, unknown>,
  ifMatch: number | null,
) {
  const doc = await deps.services.get(name);
  if (ifMatch !== null && (doc?.version ?? 0) !== ifMatch)
    throw new StaleStateError(`service ${name} is at version ${doc?.version ?? 0}, not ${ifMatch}`, doc);
  const merged = { ...(doc?.config ?? {}), ...patch };
  const config = parseOrThrow(SERVICE_CONFIGS[name], merged, 'body') as Record<string, unknown>;
  // What is stored is what was validated (the schema's output for the keys given), never the raw request.
  const validated = Object.fromEntries(Object.keys(merged).map((k) => [k, own(config, k)]));
  if (name === 'guardian') {
    // A config under which an active rule can no longer fire is refused, naming the rule.
    const rules = (await deps.rules.list()).filter((r) => r.active);
    for (const rule of rules) {
      const out = deps.checkRule(rule, config as z.infer<(typeof SERVICE_CONFIGS)['guardian']>);
      if (!out.ok)
        throw new ValidationError('body', [
          {
            path: Object.keys(patch)[0] ?? '',
            message: `would break active rule ${rule.name} (${out.field}: ${out.message})`,
          },
        ]);
    }
  }
  if (doc !== null && JSON.stringify(doc.config) === JSON.stringify(validated))
    return serviceView(deps, name);
  await deps.services.putConfig(name, validated, doc === null ? null : doc.version);
  return serviceView(deps, name);
}

interface StatusRow {
  container: string;
  host: string;
  application: string | null;
  resource: Resource;
  guard: boolean;
  usage: number | null;
  current: number;
  applied: number | null;
  upper: number | null;
  lower: number | null;
  min: number;
  max: number;
  lastDecision: string | null;
  reason: string | null;
  decidedAt: number | null;
}

const APPLIED_FIELD: Record<Resource, keyof AgentReport['limits']> = {
  cpu: 'cpuShares',
  mem: 'memMiB',
  disk_read: 'diskReadMiBps',
  disk_write: 'diskWriteMiBps',
  net: 'netMbps',
};

export async function statusRows(deps: ApiDeps, onlyHost?: string): Promise<StatusRow[]> {
  const hosts = onlyHost === undefined ? await deps.store.listNames(GSI1_KINDS.hosts) : [onlyHost];
  const rows: StatusRow[] = [];
  for (const hostName of hosts) {
    const items = await deps.store.table.queryPartition(keys.hostPartition(hostName));
    const stateItem = items.find((i) => i.sk === 'STATE');
    if (stateItem === undefined) continue;
    const host = HostState.parse(stripKeys(stateItem));
    for (const c of Object.values(host.containers).sort((a, b) => a.name.localeCompare(b.name))) {
      const gi = items.find((i) => i.sk === keys.guard(hostName, c.name).sk);
      const guard = gi === undefined ? null : (GuardState.safeParse(stripKeys(gi)).data ?? null);
      const ai = items.find((i) => i.sk === keys.applied(hostName, c.name).sk);
      const applied = ai === undefined ? null : (AgentReport.safeParse(stripKeys(ai)).data ?? null);
      for (const [r, spec] of Object.entries(c.resources) as [
        Resource,
        NonNullable<(typeof c.resources)[Resource]>,
      ][]) {
        const limits = guard?.limits[r];
        const decision = guard?.lastDecision?.resource === r ? guard.lastDecision : null;
        const usage = decision?.reasons.map((x) => x.values.usage).find((u) => typeof u === 'number');
        const appliedValue = applied?.limits[APPLIED_FIELD[r]];
        rows.push({
          container: c.name,
          host: hostName,
          application: c.application,
          resource: r,
          guard: c.guard && spec.guard,
          usage: typeof usage === 'number' ? usage : null,
          current: spec.current,
          applied: typeof appliedValue === 'number' ? appliedValue : null,
          upper: limits?.upper ?? null,
          lower: limits?.lower ?? null,
          min: spec.min,
          max: spec.max,
          lastDecision: decision === null ? null : `${decision.text}${decision.dryRun ? ' (dry run)' : ''}`,
          reason: decision?.reasons.map((x) => x.text).join('; ') || null,
          decidedAt: decision?.at ?? null,
        });
      }
    }
  }
  return rows;
}

/** Lines read per structure for /findings (the sweep writes at most a few per structure a minute). */
const FINDINGS_PER_STRUCTURE = 50;

const FindingsQuery = z.strictObject({
  host: HostName.optional(),
  /** How far back, seconds. */
  since: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600)
    .default(600),
});

interface Finding {
  structure: string;
  at: number;
  check: string | null;
  action: string | null;
  text: string;
}

/**
 * The sanity sweep's findings (activity kind `finding`) of the last `sinceS` seconds on the hosts
 * (one or all), their containers and, fleet-wide, the rules: newest first.
 */
export async function recentFindings(deps: ApiDeps, onlyHost: string | undefined, sinceS: number) {
  const now = deps.clock.now();
  const hostNames = onlyHost === undefined ? await deps.store.listNames(GSI1_KINDS.hosts) : [onlyHost];
  const hosts = await deps.store.hosts.getMany(hostNames);
  const structures = [
    ...hosts.flatMap((h) => [h.name, ...Object.keys(h.containers)]),
    ...(onlyHost === undefined ? (await deps.rules.list()).map((r) => r.name) : []),
  ];
  const lines = await Promise.all(
    [...new Set(structures)].map((s) =>
      recentActivity(deps.store.table, s, FINDINGS_PER_STRUCTURE, now, { sinceMs: now - sinceS * 1000 }),
    ),
  );
  const text = (v: unknown) => (typeof v === 'string' ? v : null);
  return lines
    .flat()
    .filter((a) => a.kind === 'finding' && a.at >= now - sinceS * 1000)
    .sort((a, b) => b.at - a.at)
    .map(
      (a): Finding => ({
        structure: a.structure,
        at: a.at,
        check: text(a.data.check),
        action: text(a.data.action),
        text: a.text,
      }),
    );
}

export function operationRoutes(deps: ApiDeps): Route[] {
  return [
    route({
      method: 'GET',
      path: '/services',
      tag: 'services',
      summary: 'Every service: effective config, stored keys, heartbeat',
      async handle() {
        return { status: 200, body: await Promise.all(SERVICES.map((s) => serviceView(deps, s))) };
      },
    }),
    route({
      method: 'GET',
      path: '/services/{service}',
      tag: 'services',
      summary: "One service's config and heartbeat",
      async handle({ params }) {
        return { status: 200, body: await serviceView(deps, params.service as ServiceName) };
      },
    }),
    route({
      method: 'PUT',
      path: '/services/{service}',
      tag: 'services',
      summary: 'Merge config keys into a service config (typed values: numbers are numbers)',
      body: ConfigPatch,
      ifMatch: true,
      async handle({ params, body, ifMatch }) {
        return { status: 200, body: await setConfig(deps, params.service as ServiceName, body, ifMatch) };
      },
    }),
    route({
      method: 'PUT',
      path: '/services/{service}/config/{key}',
      tag: 'services',
      summary: 'Set one config key of a service',
      body: z.strictObject({
        value: z.unknown().refine((v) => v !== undefined, { message: 'is required: the new value, as JSON' }),
      }),
      ifMatch: true,
      async handle({ params, body, ifMatch }) {
        const key = params.key as string;
        const service = params.service as ServiceName;
        if (!hasOwn(SERVICE_CONFIGS[service].shape, key))
          throw new NotFoundError(`service ${service} has no config key ${key}`);
        return { status: 200, body: await setConfig(deps, service, { [key]: body.value }, ifMatch) };
      },
    }),
    route({
      method: 'POST',
      path: '/requests',
      tag: 'requests',
      summary: 'Ask the planner for a scale step of a container or application, or a new max of a container',
      body: ManualRequest,
      async handle({ body }) {
        const loc = await deps.store.locate(body.structure);
        let structureType: 'container' | 'application';
        let spec: { max: number; min: number; current: number } | undefined;
        let total: number | null = null;
        if (loc !== null) {
          structureType = 'container';
          const host = await deps.store.hosts.get(loc.host);
          const c = own(host?.containers, body.structure);
          spec = c?.resources[body.resource];
          if (host !== null) total = hostTotal(host, body.resource, c?.disk?.name ?? null);
        } else {
          const app = await deps.store.apps.get(body.structure);
          if (app === null) throw new NotFoundError(`no container or application named ${body.structure}`);
          structureType = 'application';
          spec = app.resources[body.resource];
        }
        if (spec === undefined) throw new NotFoundError(`${body.structure} has no ${body.resource} resource`);
        if (body.max !== undefined && structureType === 'application')
          throw new ValidationError('body', [
            {
              path: 'max',
              message: `the planner changes containers' max only; set an application's max with PUT /apps/${body.structure}/resources/${body.resource}`,
            },
          ]);
        // As PUT …/resources/{resource} refuses it: the planner would quietly stop at min.
        if (body.max !== undefined && body.max < spec.min)
          throw new ValidationError('body', [{ path: 'max', message: `must be ≥ min (${spec.min})` }]);
        // As PUT …/resources/{resource} refuses it too: the planner would clamp it to the host silently.
        if (body.max !== undefined && total !== null && body.max > total)
          throw new ValidationError('body', [
            { path: 'max', message: `must be ≤ the host's capacity (${total}) for ${body.resource}` },
          ]);
        const field = body.max === undefined ? 'current' : 'max';
        const amount = body.max === undefined ? (body.amount as number) : body.max - spec.max;
        if (amount === 0) return { status: 200, body: { request: null, unchanged: true } };
        const result = await submit(deps, {
          structure: body.structure,
          structureType,
          resource: body.resource,
          field,
          amount,
          text:
            field === 'max'
              ? `operator set max to ${body.max}`
              : `operator asked ${amount > 0 ? '+' : ''}${amount}`,
        });
        // The planner may trim a step (at max, min or the host's free capacity): show where it ended.
        const after =
          structureType === 'container' && loc !== null
            ? (own((await deps.store.hosts.get(loc.host))?.containers, body.structure)?.resources[
                body.resource
              ] ?? null)
            : null;
        return { status: 200, body: { request: result, unchanged: false, resource: after } };
      },
    }),
    route({
      method: 'GET',
      path: '/findings',
      tag: 'status',
      summary:
        "The sanity sweep's findings of the last ?since= seconds (600) on hosts (?host=), their containers and rules, newest first",
      async handle({ query }) {
        const q = parseOrThrow(FindingsQuery, query, 'query');
        if (q.host !== undefined) await deps.store.hosts.require(q.host);
        return { status: 200, body: await recentFindings(deps, q.host, q.since) };
      },
    }),
    route({
      method: 'GET',
      path: '/status',
      tag: 'status',
      summary:
        'Per container and resource: usage, current, applied, upper/lower, max, last decision and reason',
      async handle({ query }) {
        const host =
          query.host === undefined
            ? undefined
            : parseOrThrow(z.object({ host: HostName }), { host: query.host }, 'query').host;
        if (host !== undefined) await deps.store.hosts.require(host);
        return { status: 200, body: await statusRows(deps, host) };
      },
    }),
  ];
}
