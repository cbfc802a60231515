import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { User } from '../../../../core/contracts/structure.ts';
import { ConflictError, NotFoundError, StaleStateError } from '../../../../core/errors.ts';
import { ApiStore } from '../../../../functions/api/store.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS } from '../../../support/env.ts';

const aUser = (name: string): User => ({ name, applications: [], resources: {}, version: 1 });

describe.each(DYNAMO_FLAVOURS)('the API store on %s', (flavour) => {
  let t: TestTable;
  let store: ApiStore;
  beforeAll(async () => {
    t = await createTestTable(flavour);
    store = new ApiStore(t.table);
  });
  afterAll(async () => {
    await t.drop();
  });

  it('gives a doc at the version If-Match names, and a 409-bound StaleStateError at any other', async () => {
    await store.users.create('u-at', aUser('u-at'));
    await store.users.update('u-at', (u) => ({ ...u, applications: ['a'] })); // now version 2
    expect((await store.users.requireAt('u-at', 2)).applications).toEqual(['a']);
    expect((await store.users.requireAt('u-at', null)).version).toBe(2);
    const err = await store.users.requireAt('u-at', 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StaleStateError);
    expect((err as Error).message).toBe('user u-at is at version 2, not 1');
    await expect(store.users.requireAt('u-none', null)).rejects.toThrow(NotFoundError);
  });

  it('lists the docs that exist, in the order asked, skipping missing ones', async () => {
    await store.users.create('u-l1', aUser('u-l1'));
    await store.users.create('u-l2', aUser('u-l2'));
    const docs = await store.users.getMany(['u-l2', 'u-gone', 'u-l1']);
    expect(docs.map((u) => u.name)).toEqual(['u-l2', 'u-l1']);
  });

  it('creates at version 1, and answers a doc created meanwhile with a ConflictError', async () => {
    expect((await store.users.createOrConflict('u-c', aUser('u-c'))).version).toBe(1);
    const err = await store.users.createOrConflict('u-c', aUser('u-c')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as Error).message).toBe('user u-c was created concurrently');
  });
});
