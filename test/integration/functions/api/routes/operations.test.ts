import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { recordActivity } from '../../../../../adapters/dynamodb/activity.ts';
import { Catalog } from '../../../../../adapters/dynamodb/catalog.ts';
import { keys } from '../../../../../core/contracts/table-layout.ts';
import { DYNAMO_FLAVOURS } from '../../../../support/env.ts';
import { type ApiFixture, aContainer, aHost, apiFixture, T0 } from '../harness.ts';

describe.each(DYNAMO_FLAVOURS)('service, request and status routes on %s', (flavour) => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await apiFixture(flavour);
    await f.call('PUT', '/hosts/h1', aHost({ cores: 4, memMiB: 8192 }));
    await f.call('PUT', '/containers/c1', aContainer('h1', { cpu: [300, 50, 100], mem: [2048, 256, 1024] }));
  });
  afterAll(async () => {
    await f.close();
  });

  it('shows every service with its effective config and heartbeat', async () => {
    const r = await f.call('GET', '/services');
    expect(r.body.map((s: { name: string }) => s.name)).toEqual([
      'guardian',
      'scaler',
      'rebalancer',
      'snapshoter',
      'sanity',
    ]);
    const g = await f.call('GET', '/services/guardian');
    expect(g.body).toMatchObject({
      config: { WINDOW_TIMELAPSE: 5, EVENT_TIMEOUT: 60 },
      heartbeat: null,
      stale: true, // active and never heard from: its loop is not running
    });
    // A fresh heartbeat is not stale; one older than three minutes is (issue 19, item 9).
    const catalog = new Catalog(f.tt.table);
    if ((await catalog.getService('snapshoter')) === null) await catalog.putServiceConfig('snapshoter', {});
    await catalog.recordHeartbeat('snapshoter', f.clock.now() - 10_000);
    expect((await f.call('GET', '/services/snapshoter')).body.stale).toBe(false);
    await catalog.recordHeartbeat('snapshoter', f.clock.now() - 600_000);
    expect((await f.call('GET', '/services/snapshoter')).body.stale).toBe(true);
    expect((await f.call('GET', '/services/nope')).status).toBe(400);
  });

  it('sets config keys with typed values and merges partial configs', async () => {
    const one = await f.call('PUT', '/services/guardian/config/EVENT_TIMEOUT', { value: 90 });
    expect(one.status).toBe(200);
    expect(one.body.config.EVENT_TIMEOUT).toBe(90);
    const many = await f.call('PUT', '/services/scaler', { REQUEST_TIMEOUT: 20, ORDER_TTL: 90 });
    expect(many.body.config).toMatchObject({ REQUEST_TIMEOUT: 20, ORDER_TTL: 90, DRY_RUN: false });
    expect(many.body.stored).toEqual({ REQUEST_TIMEOUT: 20, ORDER_TTL: 90 }); // defaults stay defaults
    expect((await f.call('GET', '/services/guardian')).body.config.EVENT_TIMEOUT).toBe(90);
  });

  it.each([
    [
      'a number sent as a string',
      '/services/guardian/config/WINDOW_TIMELAPSE',
      { value: '10' },
      'WINDOW_TIMELAPSE',
      400,
    ],
    [
      'an out-of-range value',
      '/services/guardian/config/WINDOW_TIMELAPSE',
      { value: 0 },
      'WINDOW_TIMELAPSE',
      400,
    ],
    ['an unknown key in a merge', '/services/guardian', { WINDOWS: 3 }, 'WINDOWS', 400],
    ['an unknown key', '/services/guardian/config/NOPE', { value: 1 }, undefined, 404],
    ['a missing value', '/services/guardian/config/DRY_RUN', {}, 'value', 400],
    [
      'a config that makes an active rule unreachable',
      '/services/guardian',
      { EVENT_TIMEOUT: 5 },
      'EVENT_TIMEOUT',
      400,
    ],
    [
      "the original's rules balancing policy",
      '/services/rebalancer',
      { BALANCING_POLICY: 'rules' },
      'BALANCING_POLICY',
      400,
    ],
    ['compensation', '/services/rebalancer/config/COMPENSATE', { value: true }, 'COMPENSATE', 400],
  ])('refuses %s and changes nothing', async (_what, path, body, field, status) => {
    const before = await f.snapshot();
    const r = await f.call('PUT', path, body);
    expect(r.status).toBe(status);
    if (field !== undefined) expect(r.body.field ?? '').toBe(field);
    expect(await f.snapshot()).toEqual(before);
  });

  it('says plainly that a config value is missing, and names a bad status host in field', async () => {
    const missing = await f.call('PUT', '/services/guardian/config/DRY_RUN', {});
    expect(missing.body.message).toMatch(/^invalid body\.value: is required/);
    const badHost = await f.call('GET', '/status?host=..');
    expect(badHost).toMatchObject({ status: 400, body: { field: 'host' } });
  });

  it("lists the sanity sweep's recent findings on hosts, their containers and rules, newest first", async () => {
    const finding = (structure: string, agoS: number, check: string) =>
      recordActivity(f.tt.table, {
        structure,
        at: T0 - agoS * 1000,
        kind: 'finding',
        text: `${check} on ${structure}`,
        data: { check, action: 'reported' },
      });
    await finding('h1', 30, 'accounting');
    await finding('c1', 10, 'lagging');
    await finding('CpuRescaleUp', 20, 'rule');
    await finding('c1', 3600, 'lagging'); // older than the 10-minute default
    await recordActivity(f.tt.table, {
      structure: 'c1',
      at: T0 - 5000,
      kind: 'decision',
      text: 'not a finding',
    });
    const all = await f.call('GET', '/findings');
    expect(all.status).toBe(200);
    expect(all.body.map((x: { structure: string; check: string }) => `${x.structure}:${x.check}`)).toEqual([
      'c1:lagging',
      'CpuRescaleUp:rule',
      'h1:accounting',
    ]);
    expect(all.body[0]).toEqual({
      structure: 'c1',
      at: T0 - 10_000,
      check: 'lagging',
      action: 'reported',
      text: 'lagging on c1',
    });
    const oneHost = await f.call('GET', '/findings?host=h1&since=7200');
    expect(oneHost.body.map((x: { structure: string }) => x.structure)).toEqual(['c1', 'h1', 'c1']);
    expect((await f.call('GET', '/findings?since=0')).body.field).toBe('since');
    expect((await f.call('GET', '/findings?host=nope')).status).toBe(404);
  });

  it('shows heartbeats the services record', async () => {
    await f.tt.table.put({
      ...keys.service('sanity'),
      name: 'sanity',
      config: {},
      heartbeat: T0 - 1000,
      version: 1,
    });
    expect((await f.call('GET', '/services/sanity')).body.heartbeat).toBe(T0 - 1000);
  });

  it('passes a manual step to the planner, which commits it and queues an order', async () => {
    const r = await f.call('POST', '/requests', { structure: 'c1', resource: 'cpu', amount: 100 });
    expect(r.status).toBe(200);
    expect(r.body.request).toMatchObject({ accepted: 1, orders: 1, rejected: [] });
    expect((await f.call('GET', '/containers/c1/resources/cpu')).body.current).toBe(200);
  });

  it('passes a new max to the planner', async () => {
    const r = await f.call('POST', '/requests', { structure: 'c1', resource: 'cpu', max: 350 });
    expect(r.status).toBe(200);
    expect((await f.call('GET', '/containers/c1/resources/cpu')).body.max).toBe(350);
  });

  it("answers with the container's resource as the planner left it, so a trimmed step shows", async () => {
    // c1 cpu: current 200 of max 350; +400 is trimmed at max: 200 + 400 → 350
    const r = await f.call('POST', '/requests', { structure: 'c1', resource: 'cpu', amount: 400 });
    expect(r.status).toBe(200);
    expect(r.body.resource).toEqual({ max: 350, min: 50, current: 350, guard: true, weight: 1 });
    expect(
      (await f.call('POST', '/requests', { structure: 'c1', resource: 'cpu', amount: -150 })).body.resource,
    ).toMatchObject({ current: 200 });
  });

  it("refuses an application's new max (the planner plans containers' max only) with 400 naming max", async () => {
    expect((await f.call('PUT', '/apps/shop', { resources: { cpu: { max: 400 } } })).status).toBe(201);
    const before = await f.snapshot();
    const r = await f.call('POST', '/requests', { structure: 'shop', resource: 'cpu', max: 500 });
    expect(r.status).toBe(400);
    expect(r.body.field).toBe('max');
    expect(r.body.message).toContain('/apps/shop/resources/cpu');
    expect(await f.snapshot()).toEqual(before);
  });

  it.each([
    ['an unknown structure', { structure: 'ghost', resource: 'cpu', amount: 10 }, 404, undefined],
    ['a zero step', { structure: 'c1', resource: 'cpu', amount: 0 }, 400, 'amount'],
    ['both a step and a max', { structure: 'c1', resource: 'cpu', amount: 5, max: 400 }, 400, 'amount'],
    ['an unknown resource', { structure: 'c1', resource: 'gpu', amount: 5 }, 400, 'resource'],
    ['a resource the container lacks', { structure: 'c1', resource: 'net', amount: 5 }, 404, undefined],
    // c1 cpu min is 50: PUT …/resources/cpu refuses such a max as well
    ['a max below min', { structure: 'c1', resource: 'cpu', max: 10 }, 400, 'max'],
    // h1 has 4 cores (400 shares): PUT …/resources/cpu refuses more; the planner would clamp it silently
    ['a max above the host capacity', { structure: 'c1', resource: 'cpu', max: 1_000_000 }, 400, 'max'],
  ])('refuses a manual request with %s, changing nothing', async (_what, body, status, field) => {
    const before = await f.snapshot();
    const r = await f.call('POST', '/requests', body);
    expect(r.status).toBe(status);
    if (field !== undefined) expect(r.body.field).toBe(field);
    expect(await f.snapshot()).toEqual(before);
  });

  it('answers 409 naming the planner reason when it refuses a step the host cannot give, changing nothing', async () => {
    await f.call('PUT', '/containers/c1/resources/mem', { max: 8192 });
    // The host has 8192 − 1024 = 7168 MiB free; a step of 7200 is clamped to what is free (and to max 8192).
    const fill = await f.call('POST', '/requests', { structure: 'c1', resource: 'mem', amount: 7200 });
    expect(fill.status).toBe(200);
    expect((await f.call('GET', '/hosts/h1')).body.capacity.mem.free).toBe(0);
    const before = await f.snapshot();
    const r = await f.call('POST', '/requests', { structure: 'c1', resource: 'mem', amount: 100 });
    expect(r.status).toBe(409);
    expect(r.body.message).toContain('planner refused');
    expect(await f.snapshot()).toEqual(before);
  });

  it('reports status per container and resource, with the last decision and its reason', async () => {
    await f.deps.store.containerGuards.update({ host: 'h1', container: 'c1' }, (g) => ({
      ...g,
      limits: {
        ...g.limits,
        cpu: { boundary: 10, boundary_type: 'percentage_of_max', upper: 165, lower: 130 },
      },
      lastDecision: {
        at: T0,
        resource: 'cpu',
        text: 'CpuRescaleUp +75',
        reasons: [
          { source: 'CpuRescaleUp', text: 'usage 190 above upper 165 for 2 windows', values: { usage: 190 } },
        ],
        dryRun: false,
      },
    }));
    const r = await f.call('GET', '/status');
    expect(r.status).toBe(200);
    const cpu = r.body.find((x: { resource: string }) => x.resource === 'cpu');
    expect(cpu).toMatchObject({
      container: 'c1',
      host: 'h1',
      usage: 190,
      current: 200,
      upper: 165,
      lower: 130,
      max: 350,
      lastDecision: 'CpuRescaleUp +75',
      reason: 'usage 190 above upper 165 for 2 windows',
    });
    expect((await f.call('GET', '/status?host=h1')).body).toHaveLength(2);
    expect((await f.call('GET', '/status?host=nohost')).status).toBe(404);
    expect((await f.call('GET', '/status?host=bad%2Fname')).status).toBe(400);
  });

  it('applies a Scaler config change at once: in dry run a manual step commits nothing', async () => {
    expect((await f.call('PUT', '/services/scaler/config/DRY_RUN', { value: true })).status).toBe(200);
    const before = await f.snapshot();
    const r = await f.call('POST', '/requests', { structure: 'c1', resource: 'cpu', amount: -10 });
    expect(r.status).toBe(200);
    expect(r.body.request.orders).toBe(0);
    expect(await f.snapshot()).toEqual(before);
    await f.call('PUT', '/services/scaler/config/DRY_RUN', { value: false });
  });
});
