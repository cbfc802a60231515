/**
 * Application and user levels (the original framework's Refeeder and its
 * structure aggregation): an application's usage is the sum of its
 * containers' usage, its `current` the sum of their allocations; a user's
 * `max` bounds the sum of their applications' `max`.
 */
import type { Application, Container, ResourceMap, UsageMap, User } from '../contracts/structure.ts';
import { RESOURCES, type Resource } from '../contracts/units.ts';

/** Per resource, the sum of the known usages; null when none of them is known. */
export function sumUsage(usages: readonly UsageMap[]): UsageMap {
  const out: UsageMap = {};
  for (const res of RESOURCES) {
    let sum: number | null = null;
    for (const u of usages) {
      const v = u[res];
      if (v !== undefined && v !== null) sum = (sum ?? 0) + v;
    }
    if (usages.some((u) => u[res] !== undefined)) out[res] = sum;
  }
  return out;
}

export interface AggregatedApplication {
  name: string;
  /** The application's own max/min/weight/guard with `current` = Σ containers' current. */
  resources: ResourceMap;
  usage: UsageMap;
  /** Containers the application lists that were not found on any host. */
  missing: string[];
}

/**
 * Aggregate one application from its containers' desired state and usage.
 * `containers` may hold any containers: only those the application lists count.
 */
export function aggregateApplication(
  app: Pick<Application, 'name' | 'containers' | 'resources'>,
  containers: ReadonlyMap<string, Pick<Container, 'resources'>>,
  usage: ReadonlyMap<string, UsageMap>,
): AggregatedApplication {
  const present = app.containers.filter((n) => containers.has(n));
  const resources: ResourceMap = {};
  for (const [res, spec] of Object.entries(app.resources) as [
    Resource,
    NonNullable<ResourceMap[Resource]>,
  ][]) {
    const current = present.reduce((s, n) => s + (containers.get(n)?.resources[res]?.current ?? 0), 0);
    resources[res] = { ...spec, current };
  }
  const summed = sumUsage(present.map((n) => usage.get(n) ?? {}));
  const appUsage: UsageMap = {};
  for (const res of Object.keys(app.resources) as Resource[]) appUsage[res] = summed[res] ?? null;
  return {
    name: app.name,
    resources,
    usage: appUsage,
    missing: app.containers.filter((n) => !containers.has(n)),
  };
}

export interface BudgetViolation {
  resource: Resource;
  /** Σ of the applications' max. */
  applicationsMax: number;
  userMax: number;
  excess: number;
}

export type BudgetCheck = { ok: true } | { ok: false; violations: BudgetViolation[]; text: string };

/**
 * Whether the user's applications fit the user's budget: for each resource the
 * user bounds, Σ application max ≤ user max. The API calls this before it
 * creates or resizes an application (pass the applications as they would be).
 */
export function checkUserBudget(
  user: Pick<User, 'name' | 'resources'>,
  apps: readonly Pick<Application, 'name' | 'resources'>[],
): BudgetCheck {
  const violations: BudgetViolation[] = [];
  for (const [res, spec] of Object.entries(user.resources) as [
    Resource,
    NonNullable<ResourceMap[Resource]>,
  ][]) {
    const applicationsMax = apps.reduce((s, a) => s + (a.resources[res]?.max ?? 0), 0);
    if (applicationsMax > spec.max)
      violations.push({
        resource: res,
        applicationsMax,
        userMax: spec.max,
        excess: applicationsMax - spec.max,
      });
  }
  if (violations.length === 0) return { ok: true };
  const text = violations
    .map(
      (v) =>
        `user ${user.name}: applications' ${v.resource} max add up to ${v.applicationsMax}, above the user's max ${v.userMax} by ${v.excess}`,
    )
    .join('; ');
  return { ok: false, violations, text };
}
