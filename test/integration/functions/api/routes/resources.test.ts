import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DYNAMO_FLAVOURS } from '../../../../support/env.ts';
import { type ApiFixture, aContainer, aHost, apiFixture } from '../harness.ts';

describe.each(DYNAMO_FLAVOURS)('resource, guard and limits routes on %s', (flavour) => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await apiFixture(flavour);
    await f.call('PUT', '/hosts/h1', aHost({ cores: 4, memMiB: 8192 }));
    await f.call('PUT', '/containers/c1', aContainer('h1', { cpu: [200, 50, 100], mem: [2048, 256, 1024] }));
    await f.call('PUT', '/apps/web', { resources: { cpu: { max: 400 } } });
  });
  afterAll(async () => {
    await f.close();
  });

  it('reads resources and one resource', async () => {
    expect((await f.call('GET', '/containers/c1/resources')).body.cpu).toMatchObject({
      max: 200,
      current: 100,
    });
    expect((await f.call('GET', '/containers/c1/resources/mem')).body).toMatchObject({ max: 2048, min: 256 });
    expect((await f.call('GET', '/containers/c1/resources/net')).status).toBe(404);
  });

  it('sets max, min and weight, and a repeated PUT changes nothing', async () => {
    const r = await f.call('PUT', '/containers/c1/resources/cpu', { max: 300, min: 20, weight: 2 });
    expect(r.status).toBe(200);
    expect(r.body.resource).toEqual({ max: 300, min: 20, current: 100, guard: true, weight: 2 });
    const before = await f.snapshot();
    expect(
      (await f.call('PUT', '/containers/c1/resources/cpu', { max: 300, min: 20, weight: 2 })).status,
    ).toBe(200);
    expect(await f.snapshot()).toEqual(before);
  });

  it.each([
    ['max below current', { max: 50 }, 'max'],
    ['min above current', { min: 150 }, 'min'],
    ['max above the host capacity', { max: 401 }, 'max'], // 4 cores = 400 shares
    ['a wrong type', { max: '300' }, 'max'],
    ['a negative value', { min: -1 }, 'min'],
    ['an empty body', {}, ''],
    ['current with other fields', { current: 120, max: 300 }, 'current'],
    ['current above max', { current: 301 }, 'current'],
  ])('refuses %s with 400 naming the field and changes nothing', async (_what, body, field) => {
    const before = await f.snapshot();
    const r = await f.call('PUT', '/containers/c1/resources/cpu', body);
    expect(r.status).toBe(400);
    expect(r.body.field ?? '').toBe(field);
    expect(await f.snapshot()).toEqual(before);
  });

  it('sends a new current to the planner, which commits it against host capacity', async () => {
    const free = (await f.call('GET', '/hosts/h1')).body.capacity.cpu.free;
    const r = await f.call('PUT', '/containers/c1/resources/cpu', { current: 150 });
    expect(r.status).toBe(200);
    expect(r.body.request).toMatchObject({ accepted: 1, orders: 1 });
    expect(r.body.resource.current).toBe(150);
    expect((await f.call('GET', '/hosts/h1')).body.capacity.cpu.free).toBe(free - 50); // 150 − 100
  });

  it('refuses If-Match with a new current (the planner re-plans against the host as it is), changing nothing', async () => {
    const before = await f.snapshot();
    const r = await f.call('PUT', '/containers/c1/resources/cpu', { current: 120 }, { 'If-Match': '1' });
    expect(r.status).toBe(400);
    expect(r.body.field).toBe('If-Match');
    expect(await f.snapshot()).toEqual(before);
  });

  it('guards and unguards the container and single resources', async () => {
    const off = await f.call('PUT', '/containers/c1/guard', { guard: false });
    expect(off.body.guard).toBe(false);
    const mem = await f.call('PUT', '/containers/c1/guard', { guard: false, resources: ['mem'] });
    expect(mem.body.resources.mem.guard).toBe(false);
    expect(mem.body.resources.cpu.guard).toBe(true);
    const bad = await f.call('PUT', '/containers/c1/guard', { guard: false, resources: ['net'] });
    expect(bad).toMatchObject({ status: 400, body: { field: 'resources[0]' } });
    expect((await f.call('PUT', '/containers/c1/guard', { guard: 'no' })).body.field).toBe('guard');
  });

  it('reads and sets limits (boundary 0–100, boundary_type), refusing out-of-range values', async () => {
    const r = await f.call('PUT', '/containers/c1/limits/cpu', {
      boundary: 25,
      boundary_type: 'percentage_of_current',
    });
    expect(r.status).toBe(200);
    expect(r.body.limits).toMatchObject({ boundary: 25, boundary_type: 'percentage_of_current' });
    expect((await f.call('GET', '/containers/c1/limits')).body.limits.cpu.boundary).toBe(25);
    const before = await f.snapshot();
    expect((await f.call('PUT', '/containers/c1/limits/cpu', { boundary: 101 })).body.field).toBe('boundary');
    expect((await f.call('PUT', '/containers/c1/limits/cpu', { boundary_type: 'half' })).body.field).toBe(
      'boundary_type',
    );
    expect((await f.call('PUT', '/containers/c1/limits/net', { boundary: 5 })).status).toBe(404);
    const stale = await f.call('PUT', '/containers/c1/limits/cpu', { boundary: 30 }, { 'if-match': '1' });
    expect(stale.status).toBe(409);
    expect(await f.snapshot()).toEqual(before);
  });

  it('sets application and user resources and limits; current of an application is refused', async () => {
    expect((await f.call('PUT', '/apps/web/resources/cpu', { max: 500 })).body.resource.max).toBe(500);
    expect((await f.call('PUT', '/apps/web/resources/cpu', { current: 5 })).body.field).toBe('current');
    expect((await f.call('PUT', '/apps/web/limits/cpu', { boundary: 30 })).body.limits.boundary).toBe(30);
    expect((await f.call('PUT', '/apps/web/guard', { guard: true })).body.guard).toBe(true);
    await f.call('PUT', '/users/ana', {});
    expect((await f.call('PUT', '/users/ana/resources/cpu', { max: 800 })).body.resource).toMatchObject({
      max: 800,
    });
    expect((await f.call('PUT', '/users/nobody/resources/cpu', { max: 800 })).status).toBe(404);
  });

  it('answers 404 for limits of a resource the application does not have, as for a container, changing nothing', async () => {
    const before = await f.snapshot();
    const r = await f.call('PUT', '/apps/web/limits/disk_read', { boundary: 5 });
    expect(r.status).toBe(404);
    expect(r.body.message).toContain('no disk_read resource');
    expect(await f.snapshot()).toEqual(before);
  });

  it('refuses a new application or user resource without a max (it would start at max 0), changing nothing', async () => {
    const before = await f.snapshot();
    for (const path of ['/apps/web/resources/mem', '/users/ana/resources/mem']) {
      const r = await f.call('PUT', path, { weight: 2 });
      expect({ path, status: r.status, field: r.body.field }).toEqual({ path, status: 400, field: 'max' });
      expect(r.body.message).toContain('no mem resource');
    }
    expect(await f.snapshot()).toEqual(before);
  });
});
