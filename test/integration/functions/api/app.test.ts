import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { fromStored, type Item as StoredItem } from '../../../../core/contracts/items.ts';
import { DYNAMO_FLAVOURS } from '../../../support/env.ts';
import { type ApiFixture, aContainer, aHost, apiFixture } from './harness.ts';

type Item = { pk: unknown; sk: unknown };

const SEGMENTS = [
  'hosts',
  'containers',
  'apps',
  'users',
  'rules',
  'services',
  'requests',
  'status',
  'resources',
  'limits',
  'guard',
  'config',
  'activate',
  'deactivate',
  'amount',
  'policy',
  'events-required',
  'openapi.json',
  'health',
  'h1',
  'c1',
  'web',
  'ana',
  'cpu',
  'mem',
  'net',
  'guardian',
  'CpuRescaleUp',
  'EVENT_TIMEOUT',
  'ghost',
  '..',
  '%',
  '%2F',
  '%00',
  '%2e%2e',
  '.',
  '__proto__',
  'constructor',
  'a'.repeat(80),
  '',
  ' ',
  'ü',
];

const PLAUSIBLE = [
  'h1',
  'c1',
  'web',
  'ana',
  'cpu',
  'mem',
  'guardian',
  'CpuRescaleUp',
  'EVENT_TIMEOUT',
  'DRY_RUN',
];

const aBody = fc.oneof(
  fc.constant(undefined),
  fc.string(),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc
    .record(
      {
        value: fc.jsonValue(),
        max: fc.oneof(fc.integer({ min: -5, max: 100_000 }), fc.string(), fc.constant(null)),
        min: fc.oneof(fc.integer({ min: -5, max: 500 }), fc.double()),
        current: fc.integer({ min: -5, max: 100_000 }),
        guard: fc.oneof(fc.boolean(), fc.string()),
        host: fc.constantFrom('h1', 'ghost', ''),
        structure: fc.constantFrom('c1', 'web', 'ghost'),
        resource: fc.constantFrom('cpu', 'mem', 'gpu'),
        amount: fc.integer({ min: -100_000, max: 100_000 }),
        boundary: fc.double({ min: -10, max: 200, noNaN: true }),
        resources: fc.jsonValue(),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
);

/** Segments that must never retarget a request: dot segments, encodings, separators, prototype names. */
const HOSTILE_SEGMENTS = [
  '.',
  '..',
  '%2e',
  '%2E%2e',
  '.%2E',
  '%2e%2e%2f',
  '..%2F..',
  '%5C',
  'a%5cb',
  'c1%2F..',
  '',
  '__proto__',
  'constructor',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'prototype',
  '%5F%5Fproto%5F%5F',
];

/** A JSON text nested `depth` levels (arrays and objects), as text: JSON.stringify would overflow first. */
const deepText = fc
  .tuple(fc.integer({ min: 30, max: 20_000 }), fc.boolean())
  .map(([depth, arrays]) =>
    arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
  );

/** A body with `__proto__` (or another prototype name) as a key in one of its objects. */
const protoBody = fc
  .tuple(
    fc.constantFrom('__proto__', 'constructor', 'prototype'),
    fc.jsonValue(),
    fc.constantFrom('value', 'resources', 'disks', 'disk', 'cpu', 'limits', 'rule'),
  )
  .map(
    ([key, v, field]) => `{"${field}":{"${key}":${JSON.stringify(v)},"max":1},"${key}":{"polluted":true}}`,
  );

describe.each(DYNAMO_FLAVOURS)('the API under random requests on %s', (flavour) => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await apiFixture(flavour);
    await f.call('PUT', '/hosts/h1', aHost({ cores: 2, memMiB: 4096 }));
    await f.call('PUT', '/containers/c1', aContainer('h1'));
    await f.call('PUT', '/apps/web', {});
    await f.call('PUT', '/users/ana', {});
  });
  afterAll(async () => {
    await f.close();
  });

  it('never answers 5xx and never changes state when it answers 4xx', async () => {
    let before = await f.snapshot();
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.tuple(
            fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'PATCH'),
            fc
              .array(fc.constantFrom(...SEGMENTS), { minLength: 0, maxLength: 6 })
              .map((s) => `/${s.join('/')}`),
          ),
          // A real route with random parameters, mostly plausible ones: most requests reach a handler.
          fc
            .tuple(
              fc.constantFrom(...f.api.routes),
              fc.array(fc.oneof(fc.constantFrom(...PLAUSIBLE), fc.constantFrom(...SEGMENTS)), {
                minLength: 4,
                maxLength: 4,
              }),
            )
            .map(
              ([route, values]) =>
                [route.method, route.path.replace(/\{\w+\}/g, () => values.shift() ?? 'x')] as const,
            ),
        ),
        aBody,
        async ([method, path], body) => {
          const r = await f.call(method, path, body);
          seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
          expect(r.status).toBeLessThan(500);
          const after = await f.snapshot();
          if (r.status >= 400) expect(after).toEqual(before);
          before = after;
        },
      ),
      { numRuns: flavour === 'dynalite' ? 250 : 120 },
    );
    // The requests reached handlers: some succeeded, some were refused for their body, path or state.
    for (const status of [200, 400, 404]) expect(seen.get(status) ?? 0).toBeGreaterThan(0);
    if (process.env.SC_TEST_VERBOSE) console.log(flavour, Object.fromEntries(seen));
  }, 120_000);

  it('takes hostile paths and bodies literally: no 5xx, no request over 2 s, refusals change nothing, successes change only what the path names', async () => {
    let before = await f.snapshot();
    const seen = new Map<number, number>();
    const t0 = Date.now();
    await fc.assert(
      fc.asyncProperty(
        fc
          .tuple(
            fc.constantFrom(...f.api.routes),
            fc.array(fc.oneof(fc.constantFrom(...PLAUSIBLE), fc.constantFrom(...HOSTILE_SEGMENTS)), {
              minLength: 4,
              maxLength: 4,
            }),
          )
          .map(([route, values]) => {
            const named: string[] = [];
            const path = route.path.replace(/\{\w+\}/g, () => {
              const v = values.shift() ?? 'x';
              named.push(v);
              return v;
            });
            return [route.method, path, named, route.body !== undefined] as const;
          }),
        fc.oneof(aBody, protoBody, deepText),
        async ([method, path, named, takesBody], body) => {
          const started = Date.now();
          const r = await f.call(method, path, body);
          expect(Date.now() - started).toBeLessThan(2_000);
          seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
          expect(r.status).toBeLessThan(500);
          expect(Object.keys(Object.prototype)).toEqual([]);
          // Oracles: a segment that is not a literal name, a prototype key in a body, a body nested
          // deeper than the store keeps — each is a 400 whatever the route.
          const literal = named.every((n) => {
            if (n === '') return false;
            const d = decodeURIComponent(n);
            return d !== '.' && d !== '..' && !/[/\\]/.test(d);
          });
          if (!literal) expect({ method, path, status: r.status }).toEqual({ method, path, status: 400 });
          else if (
            takesBody &&
            typeof body === 'string' &&
            (body.includes('"__proto__"') || /^(\[{30}|(\{"a":){30})/.test(body))
          )
            expect({ method, path, body: body.slice(0, 60), status: r.status }).toEqual({
              method,
              path,
              body: body.slice(0, 60),
              status: 400,
            });
          const after = await f.snapshot();
          if (r.status >= 400) expect(after).toEqual(before);
          else {
            // Every item that changed names one of the path's names (its key or its content).
            // Host states are stored deflated: compare what they hold.
            const text = (i: unknown) => JSON.stringify(fromStored(i as StoredItem));
            const was = new Map(
              before.map((i) => [JSON.stringify([(i as Item).pk, (i as Item).sk]), text(i)]),
            );
            const now = new Map(
              after.map((i) => [JSON.stringify([(i as Item).pk, (i as Item).sk]), text(i)]),
            );
            const changed = [...new Set([...was.keys(), ...now.keys()])].filter(
              (k) => was.get(k) !== now.get(k),
            );
            for (const k of changed) {
              const text = `${k}${was.get(k) ?? ''}${now.get(k) ?? ''}`;
              expect({
                path,
                k,
                names: named.some((n) => n !== '' && text.includes(decodeURIComponent(n))),
              }).toEqual({
                path,
                k,
                names: true,
              });
            }
          }
          before = after;
        },
      ),
      { numRuns: flavour === 'dynalite' ? 300 : 100 },
    );
    // Hostile segments are refused before any handler: 400 dominates, nothing 5xx.
    expect(seen.get(400) ?? 0).toBeGreaterThan(0);
    if (process.env.SC_TEST_VERBOSE)
      console.log(flavour, 'hostile', Object.fromEntries(seen), Date.now() - t0, 'ms');
  }, 120_000);

  it('serves its OpenAPI document, generated from the validating schemas', async () => {
    const r = await f.call('GET', '/openapi.json');
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe('3.1.0');
    const paths = Object.keys(r.body.paths);
    expect(paths.length).toBeGreaterThan(30);
    for (const route of f.api.routes)
      expect(r.body.paths[route.path][route.method.toLowerCase()]).toBeDefined();
    const sub = r.body.paths['/containers/{container}'].put.requestBody.content['application/json'].schema;
    expect(sub.required).toEqual(expect.arrayContaining(['host', 'resources']));
    expect(sub.properties.resources.required).toEqual(['cpu', 'mem']);
  });

  it('answers its health check', async () => {
    expect(await f.call('GET', '/health')).toMatchObject({ status: 200, body: { ok: true } });
  });
});
