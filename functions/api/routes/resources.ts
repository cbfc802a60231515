/**
 * Resources, guards and limits of containers, applications and users.
 * max/min/weight/guard are written directly (checked: min ≤ current ≤ max,
 * max within the host's capacity); a new `current` of a container goes to the
 * planner as an operator request, so host capacity is planned in one place.
 */

import { own } from '../../../core/contracts/keyed.ts';
import type { ResourceSpec } from '../../../core/contracts/structure.ts';
import type { Resource } from '../../../core/contracts/units.ts';
import { NotFoundError, ValidationError } from '../../../core/errors.ts';
import {
  guardResources,
  maxOverHost,
  patchAggregateSpec,
  patchSpec,
} from '../../../core/policy/resource-spec.ts';
import { underUserBudget, updateAppUnderBudget } from '../budget.ts';
import type { ApiDeps } from '../deps.ts';
import { type Route, route } from '../router.ts';
import { GuardInput, LimitsPatch, ResourcePatch as ResourcePatchSchema } from '../schemas.ts';
import {
  budgetField,
  containerSpec,
  patchLimits,
  readContainer,
  requireUserBudget,
  submit,
} from '../service.ts';
import { newGuardState, type VersionedDocs } from '../store.ts';

function bad(path: string, message: string): ValidationError {
  return new ValidationError('body', [{ path, message }]);
}

export function resourceRoutes(deps: ApiDeps): Route[] {
  return [...containerResourceRoutes(deps), ...structureResourceRoutes(deps)];
}

/** A container's resources, guard and limits. */
function containerResourceRoutes(deps: ApiDeps): Route[] {
  const { store } = deps;
  return [
    route({
      method: 'GET',
      path: '/containers/{container}/resources',
      tag: 'resources',
      summary: "A container's resources (max, min, current, guard, weight)",
      async handle({ params }) {
        const { container } = await readContainer(deps, params.container as string);
        return { status: 200, body: container.resources };
      },
    }),
    route({
      method: 'GET',
      path: '/containers/{container}/resources/{resource}',
      tag: 'resources',
      summary: 'One resource of a container',
      async handle({ params }) {
        const { spec } = await containerSpec(store, params.container as string, params.resource as Resource);
        return { status: 200, body: spec };
      },
    }),
    route({
      method: 'PUT',
      path: '/containers/{container}/resources/{resource}',
      tag: 'resources',
      summary:
        'Set max, min, weight or guard of a container resource; or (alone) current, through the planner',
      body: ResourcePatchSchema,
      ifMatch: true,
      async handle({ params, body, ifMatch }) {
        const name = params.container as string;
        const resource = params.resource as Resource;
        const { loc, container, spec } = await containerSpec(store, name, resource);
        if (body.current !== undefined) {
          if (ifMatch !== null)
            throw new ValidationError('header', [
              {
                path: 'If-Match',
                message:
                  'is not taken with current: the planner re-plans it against the host as it is; send it without If-Match',
              },
            ]);
          if (body.current > spec.max) throw bad('current', `must be ≤ max (${spec.max})`);
          if (body.current < spec.min) throw bad('current', `must be ≥ min (${spec.min})`);
          const amount = body.current - spec.current;
          if (amount === 0) return { status: 200, body: { resource: spec, request: null } };
          const result = await submit(deps, {
            structure: name,
            structureType: 'container',
            resource,
            field: 'current',
            amount,
            text: `operator set current to ${body.current}`,
          });
          const after = (await containerSpec(store, name, resource)).spec;
          return { status: 200, body: { resource: after, request: result } };
        }
        const updated = await store.hosts.update(
          loc.host,
          (h) => {
            const c = own(h.containers, name);
            const s = c?.resources[resource];
            if (c === undefined || s === undefined) throw new NotFoundError(`container ${name} not found`);
            const next = patchSpec(s, body, true);
            const total = maxOverHost(h, resource, c.disk?.name ?? null, next.max);
            if (total !== null) throw bad('max', `must be ≤ the host's capacity (${total}) for ${resource}`);
            h.containers[name] = { ...c, resources: { ...c.resources, [resource]: next } };
            return h;
          },
          ifMatch,
        );
        void container;
        return {
          status: 200,
          body: { resource: own(updated.containers, name)?.resources[resource], request: null },
        };
      },
    }),
    route({
      method: 'PUT',
      path: '/containers/{container}/guard',
      tag: 'resources',
      summary: 'Guard or unguard a container, or some of its resources',
      body: GuardInput,
      ifMatch: true,
      async handle({ params, body, ifMatch }) {
        const name = params.container as string;
        const loc = await store.requireLocation(name);
        const updated = await store.hosts.update(
          loc.host,
          (h) => {
            const c = own(h.containers, name);
            if (c === undefined) throw new NotFoundError(`container ${name} not found`);
            if (body.resources === undefined) {
              h.containers[name] = { ...c, guard: body.guard };
              return h;
            }
            const resources = guardResources(c.resources, body.resources, body.guard, `container ${name}`);
            h.containers[name] = { ...c, resources };
            return h;
          },
          ifMatch,
        );
        return { status: 200, body: own(updated.containers, name) };
      },
    }),
    route({
      method: 'GET',
      path: '/containers/{container}/limits',
      tag: 'limits',
      summary: "A container's limits (boundary, boundary_type, upper, lower) per resource",
      async handle({ params }) {
        const { limits, limitsVersion } = await readContainer(deps, params.container as string);
        return { status: 200, body: { limits, version: limitsVersion } };
      },
    }),
    route({
      method: 'PUT',
      path: '/containers/{container}/limits/{resource}',
      tag: 'limits',
      summary: "Set a container resource's boundary (0–100) and boundary_type",
      body: LimitsPatch,
      ifMatch: true,
      async handle({ params, body, ifMatch }) {
        const name = params.container as string;
        const resource = params.resource as Resource;
        const { loc } = await containerSpec(store, name, resource);
        const key = { host: loc.host, container: name };
        const fresh = () => newGuardState(name, 'container', {});
        const g = await patchLimits(store.containerGuards, key, fresh, resource, body, ifMatch);
        return { status: 200, body: { limits: g.limits[resource], version: g.version } };
      },
    }),
  ];
}

/** An application's resources, guard and limits, and a user's resources. */
function structureResourceRoutes(deps: ApiDeps): Route[] {
  const { store } = deps;
  return [
    aggregateResourceRoute({
      path: '/apps/{app}/resources/{resource}',
      summary: 'Set max, min, weight or guard of an application resource',
      docs: () => store.apps,
      param: 'app',
      kind: 'application',
      currentIs: "an application's current is the sum of its containers'; set it on a container",
      async check(app) {
        const user = app.user === null ? null : await store.users.get(app.user);
        if (user !== null) await requireUserBudget(deps, user, app, budgetField('max'));
      },
      update: (name, change, ifMatch) => updateAppUnderBudget(deps, name, change, ifMatch),
    }),
    route({
      method: 'PUT',
      path: '/apps/{app}/guard',
      tag: 'resources',
      summary: 'Guard or unguard an application, or some of its resources',
      body: GuardInput,
      ifMatch: true,
      async handle({ params, body, ifMatch }) {
        const name = params.app as string;
        const app = await store.apps.update(
          name,
          (a) => {
            if (body.resources === undefined) return { ...a, guard: body.guard };
            const resources = guardResources(a.resources, body.resources, body.guard, `application ${name}`);
            return { ...a, resources };
          },
          ifMatch,
        );
        return { status: 200, body: app };
      },
    }),
    route({
      method: 'PUT',
      path: '/apps/{app}/limits/{resource}',
      tag: 'limits',
      summary: "Set an application resource's boundary (0–100) and boundary_type",
      body: LimitsPatch,
      ifMatch: true,
      async handle({ params, body, ifMatch }) {
        const name = params.app as string;
        const resource = params.resource as Resource;
        const app = await store.apps.require(name);
        if (app.resources[resource] === undefined)
          throw new NotFoundError(`application ${name} has no ${resource} resource`);
        const fresh = () => newGuardState(name, 'application', {});
        const g = await patchLimits(store.appGuards, name, fresh, resource, body, ifMatch);
        return { status: 200, body: { limits: g.limits[resource], version: g.version } };
      },
    }),
    aggregateResourceRoute({
      path: '/users/{user}/resources/{resource}',
      summary: "Set a user's max or min of a resource",
      docs: () => store.users,
      param: 'user',
      kind: 'user',
      currentIs: "a user's current is not set directly",
      check: (user) => requireUserBudget(deps, user, null, budgetField('max')),
      update: (name, change, ifMatch) =>
        underUserBudget(deps, name, () => store.users.update(name, change, ifMatch)),
    }),
  ];
}

/**
 * PUT of an application's or a user's resource: max/min/weight/guard patched
 * on its doc (versioned, If-Match honoured); `current` is refused, naming why.
 */
function aggregateResourceRoute<
  T extends { version: number; resources: Partial<Record<Resource, ResourceSpec>> },
>(o: {
  path: string;
  summary: string;
  /** Read per request, like every route's use of the store (routes are built without touching it). */
  docs: () => VersionedDocs<string, T>;
  param: string;
  kind: string;
  currentIs: string;
  /** Refuses the patched doc (throws) before it is written: the user's budget. */
  check(doc: T): Promise<void>;
  /** How the doc is updated (default `docs().update`): under the user's budget lease (functions/api/budget.ts). */
  update?(name: string, change: (d: T) => Promise<T>, ifMatch: number | null): Promise<T>;
}): Route {
  return route({
    method: 'PUT',
    path: o.path,
    tag: 'resources',
    summary: o.summary,
    body: ResourcePatchSchema,
    ifMatch: true,
    async handle({ params, body, ifMatch }) {
      const resource = params.resource as Resource;
      if (body.current !== undefined) throw bad('current', o.currentIs);
      const name = own(params, o.param) as string;
      const update = o.update ?? ((n, change, at) => o.docs().update(n, change, at));
      const doc = await update(
        name,
        async (d) => {
          const spec = d.resources[resource];
          if (spec === undefined && body.max === undefined)
            throw bad('max', `${o.kind} ${name} has no ${resource} resource yet: give its max to add it`);
          d.resources = { ...d.resources, [resource]: patchAggregateSpec(spec, body) };
          await o.check(d);
          return d;
        },
        ifMatch,
      );
      return { status: 200, body: { resource: doc.resources[resource] } };
    },
  });
}
