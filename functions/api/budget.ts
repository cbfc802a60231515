/**
 * A user's budget under concurrency. A user's max bounds the sum of its applications'
 * max, and each application is its own item: two requests changing two applications
 * would each read the other as it was, both pass the check, and together over-commit.
 *
 * So every change the check depends on — a user's max, linking an application, an
 * application's max while it has a user — runs its read-check-write holding the user's
 * budget lease: an item LEASE / user-budget#<user> taken with a conditional write (free,
 * expired, or already ours) and deleted, on its owner, when done. Requests for one user
 * take turns; the second reads what the first wrote, and is refused (400/409) when it no
 * longer fits. A lease left by a dead process lapses after LEASE_MS. An application
 * whose user changes while a change to it waits is read again under the new user's lease.
 */

import type { Application } from '../../core/contracts/structure.ts';
import { keys } from '../../core/contracts/table-layout.ts';
import { ConflictError, StaleStateError } from '../../core/errors.ts';
import type { ApiDeps } from './deps.ts';

/** How long a lease holds without its owner (a crashed request), ms. */
export const LEASE_MS = 10_000;
/** Tries to take a held lease before answering 409 (each waits 10–40 ms on the deps' clock). */
const ACQUIRE_ATTEMPTS = 100;

const leaseKey = (user: string) => keys.lease(`user-budget#${user}`);

/** Run `fn` holding `user`'s budget lease; 409 when it stays held by others. */
export async function underUserBudget<T>(deps: ApiDeps, user: string, fn: () => Promise<T>): Promise<T> {
  const owner = deps.newId();
  const key = leaseKey(user);
  for (let attempt = 1; ; attempt++) {
    const now = deps.clock.now();
    try {
      await deps.store.table.putIf(
        { ...key, owner, expiresAt: now + LEASE_MS },
        {
          expression: 'attribute_not_exists(pk) OR expiresAt < :now OR #o = :owner',
          names: { '#o': 'owner' },
          values: { ':now': now, ':owner': owner },
        },
        `user ${user}'s budget lease`,
      );
      break;
    } catch (err) {
      if (!(err instanceof StaleStateError)) throw err;
      if (attempt >= ACQUIRE_ATTEMPTS)
        throw new ConflictError(`user ${user}'s budget is being changed by other requests; try again`, {
          context: { field: 'user' },
        });
      await deps.clock.sleep(10 + Math.random() * 30);
    }
  }
  try {
    return await fn();
  } finally {
    await deps.store.table
      .deleteIf(
        key,
        { expression: '#o = :owner', names: { '#o': 'owner' }, values: { ':owner': owner } },
        'lease',
      )
      .catch(() => undefined); // taken over after it lapsed, or unreachable: it lapses by itself
  }
}

class OwnerChanged extends Error {}

/**
 * `store.apps.update`, holding the budget lease of the application's user while it has
 * one. `change` runs on the application as stored under that lease.
 */
export async function updateAppUnderBudget(
  deps: ApiDeps,
  name: string,
  change: (a: Application) => Application | Promise<Application>,
  ifMatch: number | null = null,
): Promise<Application> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    const user = (await deps.store.apps.require(name)).user;
    const run = () =>
      deps.store.apps.update(
        name,
        (a) => {
          if (a.user !== user) throw new OwnerChanged();
          return change(a);
        },
        ifMatch,
      );
    try {
      return user === null ? await run() : await underUserBudget(deps, user, run);
    } catch (err) {
      if (!(err instanceof OwnerChanged)) throw err;
    }
  }
  throw new ConflictError(`application ${name} kept changing users; try again`, {
    context: { field: 'app' },
  });
}
