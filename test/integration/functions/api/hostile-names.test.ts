/**
 * Names are data, never structure (issue 19, items 1, 2 and 7): prototype member
 * names work as names, `__proto__` never reaches the data, and a path is taken
 * literally — dot segments, empty segments and encoded separators are refused
 * before anything is looked up.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ApiFixture, aContainer, aHost, apiFixture } from './harness.ts';

const PROTO_NAMES = ['constructor', 'toString', 'valueOf', 'hasOwnProperty'];

function rawRequest(url: string, method: string, path: string, token: string, body?: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const u = new URL(url);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => {
          text += String(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('hostile names and paths', () => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await apiFixture('dynalite');
    expect((await f.call('PUT', '/hosts/h1', aHost({ cores: 8, memMiB: 16384 }))).status).toBe(201);
    expect((await f.call('PUT', '/users/u9', {})).status).toBe(201);
    expect((await f.call('PUT', '/apps/a2', {})).status).toBe(201);
  });
  afterAll(async () => {
    await f.close();
  });

  it.each(PROTO_NAMES)('subscribes and shows a container named %s', async (name) => {
    const r = await f.call('PUT', `/containers/${name}`, aContainer('h1', { cpu: [100, 10, 50] }));
    expect(r.status).toBe(201);
    expect((await f.call('GET', `/containers/${name}`)).body.container).toMatchObject({ host: 'h1' });
    expect((await f.call('DELETE', `/containers/${name}`)).status).toBe(200);
  });

  it.each(['toString', 'constructor'])(
    'refuses a disk named %s that the host lacks, changing nothing',
    async (disk) => {
      const before = await f.snapshot();
      const r = await f.call('PUT', '/containers/cd', {
        ...aContainer('h1'),
        disk: { name: disk, path: '/data' },
        resources: { ...aContainer('h1').resources, disk_read: { max: 10, min: 1, current: 5 } },
      });
      expect(r.status).toBe(400);
      expect(r.body.field).toBe('disk.name');
      expect(await f.snapshot()).toEqual(before);
    },
  );

  it('refuses a disk named __proto__ and leaves Object.prototype alone', async () => {
    const before = await f.snapshot();
    const r = await f.call('PUT', '/containers/cx', {
      ...aContainer('h1'),
      disk: { name: '__proto__', path: '/data' },
      resources: { ...aContainer('h1').resources, disk_read: { max: 10, min: 1, current: 5 } },
    });
    expect(r.status).toBe(400);
    expect(Object.keys(Object.prototype)).toEqual([]);
    expect(await f.snapshot()).toEqual(before);
  });

  it.each([
    ['PUT', '/containers/cp', `{"__proto__":{"polluted":1},${JSON.stringify(aContainer('h1')).slice(1)}`],
    [
      'PUT',
      '/containers/cp',
      JSON.stringify(aContainer('h1')).replace('"max":200', '"__proto__":{},"max":200'),
    ],
    ['PUT', '/services/guardian/config/EVENT_TIMEOUT', '{"value":{"__proto__":{"x":1}}}'],
    ['PUT', '/apps/a3', '{"__proto__":null}'],
    ['PUT', '/hosts/h2', JSON.stringify(aHost()).replace('"disks":{', '"disks":{"__proto__":{},')],
  ])('refuses a __proto__ key anywhere in a body: %s %s', async (method, path, body) => {
    const before = await f.snapshot();
    const r = await f.call(method, path, body);
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/__proto__/);
    expect(await f.snapshot()).toEqual(before);
  });

  it.each([
    ['DELETE', '/users/u9/apps/..'],
    ['DELETE', '/users/u9/apps/.'],
    ['DELETE', '/users/u9/apps/%2e%2e'],
    ['DELETE', '/users/u9/apps/%2E%2e'],
    ['DELETE', '/users/u9/apps/.%2E'],
    ['DELETE', '/apps/%2e%2e/containers/c3'],
    ['PUT', '/apps//guard'],
    ['DELETE', '/users/u9/'],
    ['DELETE', '/users//u9'],
    ['DELETE', '/users/u9%2Fx'],
    ['DELETE', '/users/u9%5Cx'],
    ['DELETE', '/users/u9\\x'],
    ['GET', '/hosts/./h1'],
  ])(
    'refuses %s %s (a segment taken literally is empty, a dot segment or holds a separator)',
    async (method, path) => {
      const before = await f.snapshot();
      const r = await f.call(method, path, method === 'PUT' ? { guard: true } : undefined);
      expect(r.status).toBe(400);
      expect(r.body.field).toBe('path');
      expect(await f.snapshot()).toEqual(before);
    },
  );

  it.each([
    ['DELETE', '/users/u9/apps/..'],
    ['DELETE', '/users/u9/apps/%2e%2E'],
    ['DELETE', '/apps/a2/containers/..'],
    ['PUT', '/apps//guard'],
    ['DELETE', '/users/u9/apps/..%2f..%2fusers%2fu9'],
  ])('the local server passes the raw path: %s %s is refused', async (method, path) => {
    const token = 'a-test-token-1234';
    const server = await f.serve(token);
    const before = await f.snapshot();
    const r = await rawRequest(server.url, method, path, token, method === 'PUT' ? '{}' : undefined);
    expect(r.status).toBe(400);
    expect(await f.snapshot()).toEqual(before);
    expect((await f.call('GET', '/users/u9')).status).toBe(200);
    expect((await f.call('GET', '/apps/a2')).status).toBe(200);
  });

  it('refuses an empty If-Match header and a text/plain body, changing nothing', async () => {
    const before = await f.snapshot();
    const empty = await f.call('PUT', '/apps/a2/guard', { guard: false }, { 'If-Match': '' });
    expect(empty.status).toBe(400);
    expect(empty.body.field).toBe('If-Match');
    const text = await f.call('PUT', '/apps/a4', '{}', { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    expect(await f.snapshot()).toEqual(before);
  });

  it('answers a repeated registration of a host with containers 200, changing nothing', async () => {
    expect((await f.call('PUT', '/containers/keep', aContainer('h1'))).status).toBe(201);
    const before = await f.snapshot();
    const again = await f.call('PUT', '/hosts/h1', aHost({ cores: 8, memMiB: 16384 }));
    expect(again.status).toBe(200);
    expect(await f.snapshot()).toEqual(before);
    // a different shape is still refused while it has containers
    expect((await f.call('PUT', '/hosts/h1', aHost({ cores: 4, memMiB: 16384 }))).status).toBe(409);
    expect((await f.call('DELETE', '/containers/keep')).status).toBe(200);
  });

  it("refuses adding a container that would put an application's current over its max, changing nothing", async () => {
    expect((await f.call('PUT', '/apps/small', { resources: { cpu: { max: 150 } } })).status).toBe(201);
    expect((await f.call('PUT', '/containers/big1', aContainer('h1', { cpu: [200, 10, 100] }))).status).toBe(
      201,
    );
    expect((await f.call('PUT', '/containers/big2', aContainer('h1', { cpu: [200, 10, 100] }))).status).toBe(
      201,
    );
    expect((await f.call('PUT', '/apps/small/containers/big1')).status).toBe(200); // 100 ≤ 150
    const before = await f.snapshot();
    const r = await f.call('PUT', '/apps/small/containers/big2'); // 100 + 100 = 200 > 150
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/over its max 150/);
    expect(await f.snapshot()).toEqual(before);
  });
});
