/**
 * What the API's routes share, over the store: reading a container with its limits, a container's
 * resource, applications with their current, moving a container between applications, the user's
 * budget, and operator requests to the planner. The arithmetic is core/policy's; the routes parse
 * and answer.
 */

import type { GuardState } from '../../core/contracts/guard-state.ts';
import { own } from '../../core/contracts/keyed.ts';
import { AgentReport } from '../../core/contracts/report.ts';
import type { ScaleRequest } from '../../core/contracts/request.ts';
import type { Application, User } from '../../core/contracts/structure.ts';
import { keys } from '../../core/contracts/table-layout.ts';
import type { Resource } from '../../core/contracts/units.ts';
import { ConflictError, NotFoundError, type ScError, ValidationError } from '../../core/errors.ts';
import { aggregateApplication, checkUserBudget } from '../../core/policy/aggregate.ts';
import { type BoundaryPatch, patchBoundary } from '../../core/policy/resource-spec.ts';
import type { ApiDeps } from './deps.ts';
import { type ApiStore, stripKeys, type VersionedDocs } from './store.ts';

export const OPERATOR_PRIORITY = 3;

export async function readContainer(deps: ApiDeps, name: string) {
  const loc = await deps.store.requireLocation(name);
  const items = await deps.store.table.queryPartition(keys.hostPartition(loc.host));
  const hostItem = items.find((i) => i.sk === 'STATE');
  const host = hostItem === undefined ? null : await deps.store.hosts.get(loc.host);
  const container = own(host?.containers, name);
  if (container === undefined)
    throw new ConflictError(`container ${name} is being subscribed or unsubscribed; try again`);
  const guard = await deps.store.containerGuards.get({ host: loc.host, container: name });
  const appliedItem = items.find((i) => i.sk === keys.applied(loc.host, name).sk);
  const applied =
    appliedItem === undefined ? null : (AgentReport.safeParse(stripKeys(appliedItem)).data ?? null);
  return {
    container,
    limits: guard?.limits ?? {},
    limitsVersion: guard?.version ?? null,
    lastDecision: guard?.lastDecision ?? null,
    applied,
  };
}

/** A container's resource with its location and host; 404 naming what is missing. */
export async function containerSpec(store: ApiStore, container: string, resource: Resource) {
  const loc = await store.requireLocation(container);
  const host = await store.hosts.require(loc.host);
  const c = own(host.containers, container);
  if (c === undefined) throw new NotFoundError(`container ${container} not found`);
  const spec = c.resources[resource];
  if (spec === undefined) throw new NotFoundError(`container ${container} has no ${resource} resource`);
  return { loc, host, container: c, spec };
}

/**
 * A resource's boundary and boundary_type changed on a structure's Guardian state (If-Match
 * honoured), the state created first (`fresh`) when the structure has none yet.
 */
export async function patchLimits<I>(
  docs: VersionedDocs<I, GuardState>,
  key: I,
  fresh: () => GuardState,
  resource: Resource,
  patch: BoundaryPatch,
  ifMatch: number | null,
): Promise<GuardState> {
  if ((await docs.get(key)) === null) await docs.create(key, fresh()).catch(() => undefined); // created concurrently: update below
  return docs.update(key, (g) => patchBoundary(g, resource, patch), ifMatch);
}

/** Moves a container's application from `from` to `to` on its host (409 if it is in another). */
export async function setContainerApp(
  store: ApiStore,
  container: string,
  from: string | null,
  to: string | null,
): Promise<void> {
  const loc = await store.requireLocation(container);
  await store.hosts.update(loc.host, (h) => {
    const c = own(h.containers, container);
    if (c === undefined) throw new NotFoundError(`container ${container} not found`);
    if (c.application === to) return h;
    if (c.application !== from)
      throw new ConflictError(
        c.application === null
          ? `container ${container} is not in an application`
          : `container ${container} belongs to application ${c.application}`,
        { context: { field: 'container' } },
      );
    h.containers[container] = { ...c, application: to };
    return h;
  });
}

/** Applications as read: each resource's `current` is the sum of its containers' (not stored). */
export async function withCurrent(store: ApiStore, apps: Application[]): Promise<Application[]> {
  const names = apps.flatMap((a) => a.containers);
  const located = await Promise.all(names.map((n) => store.locate(n)));
  const hosts = await store.hosts.getMany([...new Set(located.flatMap((l) => (l === null ? [] : [l.host])))]);
  const containers = new Map(
    hosts.flatMap((h) => Object.values(h.containers).map((c) => [c.name, c] as const)),
  );
  return apps.map((a) => ({ ...a, resources: aggregateApplication(a, containers, new Map()).resources }));
}

/**
 * A user's max bounds the sum of its applications' max (checkUserBudget): a change that would
 * break it is refused before anything is written. `app` is an application as it would be (changed
 * or newly linked); the user's other applications are read as they are.
 */
export async function requireUserBudget(
  deps: ApiDeps,
  user: Pick<User, 'name' | 'resources' | 'applications'>,
  app: Pick<Application, 'name' | 'resources'> | null,
  refuse: (resource: Resource, text: string) => ScError,
): Promise<void> {
  const others = await deps.store.apps.getMany(user.applications.filter((a) => a !== app?.name));
  const check = checkUserBudget(user, app === null ? others : [...others, app]);
  if (!check.ok) throw refuse((check.violations[0] as { resource: Resource }).resource, check.text);
}

/** A 400 naming the body's `max` (one resource's route) or `resources.<resource>.max` (a whole doc). */
export const budgetField =
  (at: 'max' | 'resources') =>
  (resource: Resource, text: string): ScError =>
    new ValidationError('body', [
      { path: at === 'max' ? 'max' : `resources.${resource}.max`, message: text },
    ]);

/** An operator request to the planner; all-rejected is a 409 naming the planner's reason. */
export async function submit(
  deps: ApiDeps,
  r: Pick<ScaleRequest, 'structure' | 'structureType' | 'resource' | 'field' | 'amount'> & { text: string },
) {
  const now = deps.clock.now();
  const request: ScaleRequest = {
    id: `op-${deps.newId()}`,
    structure: r.structure,
    structureType: r.structureType,
    resource: r.resource,
    field: r.field,
    amount: r.amount,
    priority: OPERATOR_PRIORITY,
    timestamp: now,
    pairStructure: null,
    source: 'operator',
    usage: null,
    reasons: [{ source: 'operator', text: r.text, values: { amount: r.amount } }],
  };
  const result = await deps.requests.submit([request], now);
  if (result.accepted === 0) {
    const why = result.rejected.map((x) => x.reason).join('; ') || 'no change was committed';
    throw new ConflictError(`the planner refused the request: ${why}`, { context: { field: r.field } });
  }
  return { id: request.id, ...result };
}
