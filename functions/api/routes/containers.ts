/**
 * Containers: subscribe to a host (the planner's admission reserves the
 * allocation and cores in the host item, one conditional write; the initial
 * limits go out as an order), read, unsubscribe (capacity given back).
 */

import type { HostState } from '../../../core/contracts/host.ts';
import { own } from '../../../core/contracts/keyed.ts';
import { DEFAULT_BOUNDARY, type ResourceLimits } from '../../../core/contracts/limits.ts';
import { AgentReport } from '../../../core/contracts/report.ts';
import type { Container } from '../../../core/contracts/structure.ts';
import { GSI1_KINDS, keys } from '../../../core/contracts/table-layout.ts';
import type { Resource } from '../../../core/contracts/units.ts';
import { ConflictError, StaleStateError, ValidationError } from '../../../core/errors.ts';
import { maxOverHost } from '../../../core/policy/resource-spec.ts';
import type { ApiDeps } from '../deps.ts';
import { type Route, route } from '../router.ts';
import { ContainerSubscription } from '../schemas.ts';
import { readContainer } from '../service.ts';
import { newGuardState } from '../store.ts';

const COMMIT_ATTEMPTS = 10;

/** Checks of a subscription against the host that are not capacity (admission does capacity). */
function checkAgainstHost(sub: ContainerSubscription, host: HostState): void {
  if (sub.disk !== undefined && own(host.capacity.disks, sub.disk.name) === undefined)
    throw new ValidationError('body', [
      {
        path: 'disk.name',
        message: `host ${host.name} has no disk ${sub.disk.name} (has: ${Object.keys(host.capacity.disks).join(', ') || 'none'})`,
      },
    ]);
  if (sub.resources.net !== undefined && host.capacity.net === null)
    throw new ValidationError('body', [
      { path: 'resources.net', message: `host ${host.name} was registered without net capacity` },
    ]);
  // As PUT …/resources/{resource} checks a new max: one above the host's total could never be reached.
  for (const [r, spec] of Object.entries(sub.resources) as [Resource, { max: number } | undefined][]) {
    const total = spec === undefined ? null : maxOverHost(host, r, sub.disk?.name ?? null, spec.max);
    if (total !== null)
      throw new ValidationError('body', [
        { path: `resources.${r}.max`, message: `must be ≤ the host's capacity (${total}) for ${r}` },
      ]);
  }
}

function limitsOf(sub: ContainerSubscription): Partial<Record<Resource, ResourceLimits>> {
  const out: Partial<Record<Resource, ResourceLimits>> = {};
  for (const r of Object.keys(sub.resources) as Resource[]) {
    if (sub.resources[r] === undefined) continue;
    const given = sub.limits[r];
    out[r] = {
      boundary: given?.boundary ?? DEFAULT_BOUNDARY.boundary,
      boundary_type: given?.boundary_type ?? DEFAULT_BOUNDARY.boundary_type,
      upper: null,
      lower: null,
    };
  }
  return out;
}

function sameSubscription(c: Container, sub: ContainerSubscription): boolean {
  const want = Object.entries(sub.resources).filter(([, v]) => v !== undefined);
  return (
    c.host === sub.host &&
    want.length === Object.keys(c.resources).length &&
    want.every(([r, v]) => {
      const have = c.resources[r as Resource];
      return have !== undefined && v !== undefined && have.max === v.max && have.min === v.min;
    })
  );
}

export function containerRoutes(deps: ApiDeps): Route[] {
  const { store } = deps;
  return [
    route({
      method: 'GET',
      path: '/containers',
      tag: 'containers',
      summary: 'List containers with their host, application and resources',
      async handle() {
        const hosts = await Promise.all(
          (await store.listNames(GSI1_KINDS.hosts)).map((h) => store.hosts.get(h)),
        );
        const rows = hosts
          .flatMap((h) => (h === null ? [] : Object.values(h.containers)))
          .sort((a, b) => a.name.localeCompare(b.name));
        return { status: 200, body: rows };
      },
    }),
    route({
      method: 'GET',
      path: '/containers/{container}',
      tag: 'containers',
      summary: 'A container: desired state, limits, last decision and the state its agent applied',
      async handle({ params }) {
        return { status: 200, body: await readContainer(deps, params.container as string) };
      },
    }),
    route({
      method: 'PUT',
      path: '/containers/{container}',
      tag: 'containers',
      summary: 'Subscribe a container to a host: reserve its allocation and cores, queue its initial limits',
      body: ContainerSubscription,
      ok: 201,
      async handle({ params, body }) {
        const name = params.container as string;
        const host = await store.hosts.require(body.host);
        checkAgainstHost(body, host);
        const loc = await store.locate(name);
        if (loc !== null) {
          const current = own((await store.hosts.get(loc.host))?.containers, name);
          if (current !== undefined && sameSubscription(current, body))
            return { status: 200, body: await readContainer(deps, name) };
          throw new ConflictError(
            `container ${name} is already subscribed to host ${loc.host}; change it with PUT /containers/${name}/resources/{resource} or unsubscribe it first`,
            { context: { field: 'container' } },
          );
        }
        try {
          await store.claimLocator(name, body.host);
        } catch (err) {
          if (err instanceof StaleStateError)
            throw new ConflictError(`container ${name} is being subscribed concurrently`, { cause: err });
          throw err;
        }
        const now = deps.clock.now();
        // The host's agent remembers the last version it applied under this name (and keeps its
        // APPLIED# report): a container subscribed again under a name used before must start above
        // it, or the agent drops its orders as stale.
        const applied = AgentReport.shape.appliedVersion.safeParse(
          (await store.table.get(keys.applied(body.host, name)))?.appliedVersion,
        );
        const container: Container = {
          name,
          host: body.host,
          application: null,
          guard: body.guard,
          resources: Object.fromEntries(Object.entries(body.resources).filter(([, v]) => v !== undefined)),
          cores: [],
          disk: body.disk ?? null,
          desiredVersion: applied.success ? applied.data : 0,
          desiredAt: now,
        };
        let committed: { host: HostState; order: Parameters<ApiDeps['queues']['send']>[1] };
        try {
          committed = await admit(deps, body.host, container, now);
        } catch (err) {
          await store.dropLocator(name);
          throw err;
        }
        const guardKey = { host: body.host, container: name };
        const limits = limitsOf(body);
        const oldGuard = await store.containerGuards.get(guardKey);
        const guardDoc = newGuardState(name, 'container', limits);
        if (oldGuard === null) await store.containerGuards.create(guardKey, guardDoc);
        else await store.containerGuards.put(guardKey, guardDoc, oldGuard.version);
        const queueUrl = committed.host.queueUrl ?? (await deps.queues.ensure(body.host)).queueUrl;
        let orderSent = true;
        try {
          await deps.queues.send(queueUrl, committed.order);
        } catch {
          orderSent = false; // the state is committed; reconciliation and the sanity sweep re-send
        }
        return {
          status: 201,
          body: { ...(await readContainer(deps, name)), order: committed.order, orderSent },
        };
      },
    }),
    route({
      method: 'DELETE',
      path: '/containers/{container}',
      tag: 'containers',
      summary: 'Unsubscribe a container: give its allocation and cores back to the host',
      async handle({ params }) {
        const name = params.container as string;
        const loc = await store.requireLocation(name);
        let released: Container | null = null;
        for (let attempt = 0; ; attempt++) {
          const host = await store.hosts.get(loc.host);
          const container = own(host?.containers, name);
          if (host === null || container === undefined) break;
          const out = deps.admission.releaseContainer(host, name);
          if (!out.ok)
            throw new ConflictError(`cannot unsubscribe ${name}: ${out.reason}`, {
              context: { field: 'container' },
            });
          try {
            await store.hosts.put(loc.host, out.host, host.version);
            released = container;
            break;
          } catch (err) {
            if (!(err instanceof StaleStateError) || attempt >= COMMIT_ATTEMPTS) throw err;
          }
        }
        const guard = await store.containerGuards.get({ host: loc.host, container: name });
        if (guard !== null)
          await store.table.deleteVersioned(keys.guard(loc.host, name), null, `limits of container ${name}`);
        if (released?.application) {
          const app = released.application;
          if ((await store.apps.get(app)) !== null)
            await store.apps.update(app, (a) => ({
              ...a,
              containers: a.containers.filter((c) => c !== name),
            }));
        }
        await store.dropLocator(name);
        return { status: 200, body: { deleted: name, host: loc.host, released } };
      },
    }),
  ];
}

/** Admission against the host as it is now, committed on its version; re-planned after a lost race. */
async function admit(deps: ApiDeps, hostName: string, container: Container, now: number) {
  for (let attempt = 0; ; attempt++) {
    const host = await deps.store.hosts.require(hostName);
    const out = deps.admission.admitContainer(host, container, now);
    if (!out.ok)
      throw new ConflictError(`host ${hostName} cannot take container ${container.name}: ${out.reason}`, {
        context: { field: out.field },
      });
    try {
      const stored = await deps.store.hosts.put(hostName, out.host, host.version);
      return { host: stored, order: out.order };
    } catch (err) {
      if (!(err instanceof StaleStateError) || attempt >= COMMIT_ATTEMPTS) throw err;
    }
  }
}
