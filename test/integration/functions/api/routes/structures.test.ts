import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DYNAMO_FLAVOURS } from '../../../../support/env.ts';
import { type ApiFixture, aContainer, aHost, apiFixture } from '../harness.ts';

describe.each(DYNAMO_FLAVOURS)('application and user routes on %s', (flavour) => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await apiFixture(flavour);
    await f.call('PUT', '/hosts/h1', aHost());
    for (const c of ['c1', 'c2'])
      expect((await f.call('PUT', `/containers/${c}`, aContainer('h1'))).status).toBe(201);
  });
  afterAll(async () => {
    await f.close();
  });

  it('creates an application (201) with no containers, then replaces its resources idempotently (200)', async () => {
    const body = { resources: { cpu: { max: 400, min: 100 } }, limits: { cpu: { boundary: 15 } } };
    const r = await f.call('PUT', '/apps/web', body);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: 'web', containers: [], user: null, state: 'running', version: 1 });
    const again = await f.call('PUT', '/apps/web', body);
    expect(again.status).toBe(200);
    expect(again.body.version).toBe(1);
    const read = await f.call('GET', '/apps/web');
    expect(read.body.limits.cpu).toMatchObject({ boundary: 15 });
  });

  it('adds a container to one application only, and removes it', async () => {
    await f.call('PUT', '/apps/db', {});
    const add = await f.call('PUT', '/apps/web/containers/c1');
    expect(add.status).toBe(200);
    expect(add.body.containers).toEqual(['c1']);
    expect((await f.call('GET', '/containers/c1')).body.container.application).toBe('web');
    const before = await f.snapshot();
    const other = await f.call('PUT', '/apps/db/containers/c1');
    expect(other.status).toBe(409);
    expect(other.body.message).toContain('web');
    expect(await f.snapshot()).toEqual(before);
    expect((await f.call('PUT', '/apps/web/containers/c1')).status).toBe(200); // idempotent
    const rm = await f.call('DELETE', '/apps/web/containers/c1');
    expect(rm.body.containers).toEqual([]);
    expect((await f.call('GET', '/containers/c1')).body.container.application).toBeNull();
    expect((await f.call('DELETE', '/apps/web/containers/c1')).status).toBe(404);
  });

  it('answers 404 for unknown applications and containers, 400 for bad bodies, changing nothing', async () => {
    const before = await f.snapshot();
    expect((await f.call('PUT', '/apps/nope/containers/c1')).status).toBe(404);
    expect((await f.call('PUT', '/apps/web/containers/nope')).status).toBe(404);
    const bad = await f.call('PUT', '/apps/web', { resources: { cpu: { max: 'a lot' } } });
    expect(bad).toMatchObject({ status: 400, body: { field: 'resources.cpu.max' } });
    const range = await f.call('PUT', '/apps/web', { resources: { cpu: { max: 10, min: 20 } } });
    expect(range).toMatchObject({ status: 400, body: { field: 'resources.cpu.min' } });
    const stray = await f.call('PUT', '/apps/web', {
      resources: { cpu: { max: 400 } },
      limits: { mem: { boundary: 5 } },
    });
    expect(stray).toMatchObject({ status: 400, body: { field: 'limits' } });
    expect(await f.snapshot()).toEqual(before);
  });

  it('refuses to delete an application that has containers (409), deletes it when empty', async () => {
    await f.call('PUT', '/apps/web/containers/c2');
    expect((await f.call('DELETE', '/apps/web')).status).toBe(409);
    await f.call('DELETE', '/apps/web/containers/c2');
    expect((await f.call('DELETE', '/apps/web')).status).toBe(200);
    expect((await f.call('GET', '/apps/web')).status).toBe(404);
  });

  it('unsubscribing a container removes it from its application', async () => {
    await f.call('PUT', '/apps/db/containers/c2');
    expect((await f.call('DELETE', '/containers/c2')).status).toBe(200);
    expect((await f.call('GET', '/apps/db')).body.containers).toEqual([]);
  });

  it("shows an application's current as the sum of its containers' (it is not stored)", async () => {
    expect((await f.call('PUT', '/apps/sum', { resources: { cpu: { max: 400 } } })).status).toBe(201);
    expect((await f.call('PUT', '/apps/sum/containers/c1')).status).toBe(200);
    // c1 holds cpu 100 (aContainer's 200:50:100); the application does not bound mem
    expect((await f.call('GET', '/apps/sum')).body.resources).toEqual({
      cpu: { max: 400, min: 0, current: 100, guard: true, weight: 1 },
    });
    const listed = (await f.call('GET', '/apps')).body.find((a: { name: string }) => a.name === 'sum');
    expect(listed.resources.cpu.current).toBe(100);
    expect((await f.call('DELETE', '/apps/sum/containers/c1')).status).toBe(200);
    expect((await f.call('GET', '/apps/sum')).body.resources.cpu.current).toBe(0);
  });

  it('creates users, links an application to one user only, unlinks it, and deleting a user unlinks its apps', async () => {
    expect((await f.call('PUT', '/users/ana', { resources: { cpu: { max: 1000 } } })).status).toBe(201);
    expect((await f.call('PUT', '/users/bo', {})).status).toBe(201);
    const link = await f.call('PUT', '/users/ana/apps/db');
    expect(link.body.applications).toEqual(['db']);
    expect((await f.call('GET', '/apps/db')).body.user).toBe('ana');
    expect((await f.call('PUT', '/users/bo/apps/db')).status).toBe(409);
    expect((await f.call('DELETE', '/users/bo/apps/db')).status).toBe(404);
    expect((await f.call('DELETE', '/users/ana/apps/db')).body.applications).toEqual([]);
    await f.call('PUT', '/users/ana/apps/db');
    expect((await f.call('DELETE', '/users/ana')).status).toBe(200);
    expect((await f.call('GET', '/apps/db')).body.user).toBeNull();
    expect((await f.call('GET', '/users/ana')).status).toBe(404);
    expect((await f.call('GET', '/users')).body.map((u: { name: string }) => u.name)).toEqual(['bo']);
  });

  it("keeps a user's applications within the user's max: every change that would exceed it is refused, changing nothing", async () => {
    // ua bounds cpu at 1000; a1 (600) is linked; a2 (500) is not: 600 + 500 = 1100 > 1000
    expect((await f.call('PUT', '/users/ua', { resources: { cpu: { max: 1000 } } })).status).toBe(201);
    expect((await f.call('PUT', '/apps/a1', { resources: { cpu: { max: 600 } } })).status).toBe(201);
    expect(
      (await f.call('PUT', '/apps/a2', { resources: { cpu: { max: 500 }, mem: { max: 99999 } } })).status,
    ).toBe(201);
    expect((await f.call('PUT', '/users/ua/apps/a1')).status).toBe(200);
    const before = await f.snapshot();
    const refused: [string, string, unknown, number, string][] = [
      ['PUT', '/users/ua/apps/a2', undefined, 409, 'app'], // linking a2: 1100 > 1000
      ['PUT', '/apps/a1', { resources: { cpu: { max: 1001 } } }, 400, 'resources.cpu.max'],
      ['PUT', '/apps/a1/resources/cpu', { max: 1001 }, 400, 'max'],
      ['PUT', '/users/ua', { resources: { cpu: { max: 599 } } }, 400, 'resources.cpu.max'],
      ['PUT', '/users/ua/resources/cpu', { max: 599 }, 400, 'max'],
    ];
    for (const [method, path, body, status, field] of refused) {
      const r = await f.call(method, path, body);
      expect({ path, status: r.status, field: r.body.field }).toEqual({ path, status, field });
      expect(r.body.message).toMatch(/max/);
    }
    expect(await f.snapshot()).toEqual(before);
    // within the budget: 600 + 400 = 1000; mem is not bounded by the user
    expect((await f.call('PUT', '/apps/a2/resources/cpu', { max: 400 })).status).toBe(200);
    expect((await f.call('PUT', '/users/ua/apps/a2')).status).toBe(200);
    expect((await f.call('PUT', '/users/ua/resources/cpu', { max: 1000 })).status).toBe(200);
  });

  it('answers 409 when If-Match names a version of an application or user that does not exist, creating nothing', async () => {
    const before = await f.snapshot();
    expect((await f.call('PUT', '/apps/ghost', {}, { 'If-Match': '3' })).status).toBe(409);
    expect((await f.call('PUT', '/users/ghost', {}, { 'If-Match': '3' })).status).toBe(409);
    expect(await f.snapshot()).toEqual(before);
  });

  it('answers 409 when If-Match names an old version of an application', async () => {
    const before = await f.snapshot();
    const r = await f.call('PUT', '/apps/db', { guard: true }, { 'If-Match': '0' });
    expect(r.status).toBe(409);
    expect(await f.snapshot()).toEqual(before);
  });
});
