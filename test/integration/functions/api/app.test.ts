import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { DYNAMO_FLAVOURS } from '../../../support/env.ts';
import { type ApiFixture, aContainer, aHost, apiFixture } from './harness.ts';

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
