/** Applications and users: create, delete, membership (one application per container, one user per application). */

import type { Application, User } from '../../../core/contracts/structure.ts';
import { GSI1_KINDS } from '../../../core/contracts/table-layout.ts';
import type { Resource } from '../../../core/contracts/units.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../../core/errors.ts';
import { currentOverMax } from '../../../core/policy/resource-spec.ts';
import { underUserBudget, updateAppUnderBudget } from '../budget.ts';
import type { ApiDeps } from '../deps.ts';
import { type Route, route } from '../router.ts';
import { ApplicationInput, UserInput } from '../schemas.ts';
import { budgetField, requireUserBudget, setContainerApp, withCurrent } from '../service.ts';
import { newGuardState, notAt } from '../store.ts';

type ResourcesOf<T extends { resources: unknown }> = T['resources'];

export function structureRoutes(deps: ApiDeps): Route[] {
  return [...applicationRoutes(deps), ...userRoutes(deps)];
}

function applicationRoutes(deps: ApiDeps): Route[] {
  const { store } = deps;
  return [
    route({
      method: 'GET',
      path: '/apps',
      tag: 'applications',
      summary: 'List applications',
      async handle() {
        return {
          status: 200,
          body: await withCurrent(store, await store.apps.getMany(await store.listNames(GSI1_KINDS.apps))),
        };
      },
    }),
    route({
      method: 'GET',
      path: '/apps/{app}',
      tag: 'applications',
      summary: 'An application with its containers and limits',
      async handle({ params }) {
        const [app] = await withCurrent(store, [await store.apps.require(params.app as string)]);
        if (app === undefined) throw new NotFoundError(`application ${params.app} not found`);
        const guard = await store.appGuards.get(app.name);
        return { status: 200, body: { ...app, limits: guard?.limits ?? {} } };
      },
    }),
    route({
      method: 'PUT',
      path: '/apps/{app}',
      tag: 'applications',
      summary:
        'Create an application, or replace its guard, state and resources (containers and user are kept)',
      body: ApplicationInput,
      ok: 201,
      ifMatch: true,
      async handle({ params, body, ifMatch }) {
        const name = params.app as string;
        const resources = (existing: ResourcesOf<Application>) =>
          Object.fromEntries(
            Object.entries(body.resources).map(([r, spec]) => [
              r,
              { ...spec, current: existing[r as Resource]?.current ?? 0 },
            ]),
          );
        let status: 200 | 201 = 200;
        let app: Application;
        if ((await store.apps.get(name)) === null) {
          if (ifMatch !== null) throw notAt(`application ${name}`, ifMatch);
          app = await store.apps.createOrConflict(name, {
            name,
            user: null,
            guard: body.guard,
            state: body.state,
            containers: [],
            resources: resources({}),
            version: 1,
          });
          status = 201;
        } else {
          app = await updateAppUnderBudget(
            deps,
            name,
            async (a) => {
              const next = { ...a, guard: body.guard, state: body.state, resources: resources(a.resources) };
              const user = a.user === null ? null : await store.users.get(a.user);
              if (user !== null) await requireUserBudget(deps, user, next, budgetField('resources'));
              return next;
            },
            ifMatch,
          );
        }
        const limits = Object.fromEntries(
          Object.entries(body.limits).map(([r, l]) => [r, { ...l, upper: null, lower: null }]),
        );
        const guard = await store.appGuards.get(name);
        if (guard === null) await store.appGuards.create(name, newGuardState(name, 'application', limits));
        else
          await store.appGuards.update(name, (g) => ({
            ...g,
            limits: Object.fromEntries(
              Object.entries(limits).map(([r, l]) => [r, { ...l, ...pickDerived(g.limits[r as Resource]) }]),
            ),
          }));
        return { status, body: app };
      },
    }),
    route({
      method: 'DELETE',
      path: '/apps/{app}',
      tag: 'applications',
      summary: 'Delete an application without containers (and its limits; unlinks it from its user)',
      ifMatch: true,
      async handle({ params, ifMatch }) {
        const name = params.app as string;
        const app = await store.apps.requireAt(name, ifMatch);
        if (app.containers.length > 0)
          throw new ConflictError(
            `application ${name} still has containers: ${app.containers.join(', ')}; remove them first`,
            { context: { field: 'app' } },
          );
        await store.apps.remove(name, app.version);
        const guard = await store.appGuards.get(name);
        if (guard !== null) await store.appGuards.remove(name, guard.version);
        if (app.user !== null && (await store.users.get(app.user)) !== null)
          await store.users.update(app.user, (u) => ({
            ...u,
            applications: u.applications.filter((a) => a !== name),
          }));
        return { status: 200, body: { deleted: name } };
      },
    }),
    route({
      method: 'PUT',
      path: '/apps/{app}/containers/{container}',
      tag: 'applications',
      summary: 'Add a container to an application (a container belongs to at most one)',
      async handle({ params }) {
        const name = params.app as string;
        const container = params.container as string;
        const stored = await store.apps.require(name);
        if (!stored.containers.includes(container)) await requireAppMax(store, stored, container);
        await setContainerApp(store, container, null, name);
        try {
          const app = await store.apps.update(name, async (a) => {
            if (a.containers.includes(container)) return a;
            // Again on the application as it now is (the write is versioned): a container added concurrently counts.
            await requireAppMax(store, a, container);
            return { ...a, containers: [...a.containers, container].sort() };
          });
          return { status: 200, body: app };
        } catch (err) {
          await setContainerApp(store, container, name, null).catch(() => undefined);
          throw err;
        }
      },
    }),
    route({
      method: 'DELETE',
      path: '/apps/{app}/containers/{container}',
      tag: 'applications',
      summary: 'Remove a container from its application',
      async handle({ params }) {
        const name = params.app as string;
        const container = params.container as string;
        const app = await store.apps.require(name);
        if (!app.containers.includes(container))
          throw new NotFoundError(`container ${container} is not in application ${name}`);
        await setContainerApp(store, container, name, null).catch((err: unknown) => {
          if (!(err instanceof NotFoundError)) throw err; // container gone: just drop it from the list
        });
        const updated = await store.apps.update(name, (a) => ({
          ...a,
          containers: a.containers.filter((c) => c !== container),
        }));
        return { status: 200, body: updated };
      },
    }),
  ];
}

function userRoutes(deps: ApiDeps): Route[] {
  const { store } = deps;
  return [
    route({
      method: 'GET',
      path: '/users',
      tag: 'users',
      summary: 'List users',
      async handle() {
        return { status: 200, body: await store.users.getMany(await store.listNames(GSI1_KINDS.users)) };
      },
    }),
    route({
      method: 'GET',
      path: '/users/{user}',
      tag: 'users',
      summary: 'A user and its applications',
      async handle({ params }) {
        return { status: 200, body: await store.users.require(params.user as string) };
      },
    }),
    route({
      method: 'PUT',
      path: '/users/{user}',
      tag: 'users',
      summary: 'Create a user, or replace its resources (its applications are kept)',
      body: UserInput,
      ok: 201,
      ifMatch: true,
      async handle({ params, body, ifMatch }) {
        const name = params.user as string;
        const resources = (existing: ResourcesOf<User>) =>
          Object.fromEntries(
            Object.entries(body.resources).map(([r, spec]) => [
              r,
              {
                ...spec,
                current: existing[r as Resource]?.current ?? 0,
                guard: existing[r as Resource]?.guard ?? true,
                weight: existing[r as Resource]?.weight ?? 1,
              },
            ]),
          );
        if ((await store.users.get(name)) === null) {
          if (ifMatch !== null) throw notAt(`user ${name}`, ifMatch);
          const user = await store.users.createOrConflict(name, {
            name,
            applications: [],
            resources: resources({}),
            version: 1,
          });
          return { status: 201, body: user };
        }
        const user = await underUserBudget(deps, name, () =>
          store.users.update(
            name,
            async (u) => {
              const next = { ...u, resources: resources(u.resources) };
              await requireUserBudget(deps, next, null, budgetField('resources'));
              return next;
            },
            ifMatch,
          ),
        );
        return { status: 200, body: user };
      },
    }),
    route({
      method: 'DELETE',
      path: '/users/{user}',
      tag: 'users',
      summary: 'Delete a user (its applications are unlinked, not deleted)',
      ifMatch: true,
      async handle({ params, ifMatch }) {
        const name = params.user as string;
        const user = await store.users.requireAt(name, ifMatch);
        for (const app of user.applications) {
          if ((await store.apps.get(app)) === null) continue;
          await store.apps.update(app, (a) => (a.user === name ? { ...a, user: null } : a));
        }
        await store.users.remove(name, user.version);
        return { status: 200, body: { deleted: name } };
      },
    }),
    route({
      method: 'PUT',
      path: '/users/{user}/apps/{app}',
      tag: 'users',
      summary: 'Link an application to a user (an application has at most one user)',
      async handle({ params }) {
        const name = params.user as string;
        const appName = params.app as string;
        await store.users.require(name);
        await store.apps.require(appName);
        // Under the user's budget lease, on the application as it is when linked (a raise of it that
        // lands meanwhile makes this versioned write read it again).
        return underUserBudget(deps, name, () => linkApp(deps, name, appName));
      },
    }),
    route({
      method: 'DELETE',
      path: '/users/{user}/apps/{app}',
      tag: 'users',
      summary: 'Unlink an application from its user',
      async handle({ params }) {
        const name = params.user as string;
        const appName = params.app as string;
        const user = await store.users.require(name);
        if (!user.applications.includes(appName))
          throw new NotFoundError(`application ${appName} is not linked to user ${name}`);
        if ((await store.apps.get(appName)) !== null)
          await store.apps.update(appName, (a) => (a.user === name ? { ...a, user: null } : a));
        const updated = await store.users.update(name, (u) => ({
          ...u,
          applications: u.applications.filter((a) => a !== appName),
        }));
        return { status: 200, body: updated };
      },
    }),
  ];
}

/** The application's max holds its containers' current: refuse a container that would break it. */
async function requireAppMax(store: ApiDeps['store'], app: Application, container: string): Promise<void> {
  const [grown] = await withCurrent(store, [{ ...app, containers: [...app.containers, container] }]);
  const over = currentOverMax(app.resources, grown?.resources);
  if (over !== null)
    throw new ValidationError('request', [
      {
        path: 'container',
        message: `adding ${container} puts ${app.name}'s ${over.resource} current at ${over.current}, over its max ${over.max}`,
      },
    ]);
}

/** Link `appName` to user `name` (run under the user's budget lease): checked, then both sides written. */
async function linkApp(deps: ApiDeps, name: string, appName: string) {
  const { store } = deps;
  await store.apps.update(appName, async (a) => {
    if (a.user === name) return a;
    if (a.user !== null)
      throw new ConflictError(`application ${appName} belongs to user ${a.user}`, {
        context: { field: 'app' },
      });
    await requireUserBudget(
      deps,
      await store.users.require(name),
      a,
      (_r, text) =>
        new ConflictError(`application ${appName} does not fit user ${name}'s budget: ${text}`, {
          context: { field: 'app' },
        }),
    );
    return { ...a, user: name };
  });
  try {
    const user = await store.users.update(name, (u) =>
      u.applications.includes(appName) ? u : { ...u, applications: [...u.applications, appName].sort() },
    );
    return { status: 200 as const, body: user };
  } catch (err) {
    await store.apps
      .update(appName, (a) => (a.user === name ? { ...a, user: null } : a))
      .catch(() => undefined);
    throw err;
  }
}

function pickDerived(l: { upper: number | null; lower: number | null } | undefined) {
  return { upper: l?.upper ?? null, lower: l?.lower ?? null };
}
