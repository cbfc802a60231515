import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { keys } from '../../../../../core/contracts/table-layout.ts';
import { DYNAMO_FLAVOURS } from '../../../../support/env.ts';
import { type ApiFixture, aContainer, aHost, apiFixture } from '../harness.ts';

const locatorKey = (c: string) => ({ pk: keys.containerLocator(c).pk, sk: keys.containerLocator(c).sk });

describe.each(DYNAMO_FLAVOURS)('container routes on %s', (flavour) => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await apiFixture(flavour);
    expect((await f.call('PUT', '/hosts/h1', aHost({ cores: 4, memMiB: 8192 }))).status).toBe(201);
  });
  afterAll(async () => {
    await f.close();
  });

  it('subscribing reserves the allocation and cores on the host and queues the initial limits', async () => {
    const r = await f.call('PUT', '/containers/c1', {
      ...aContainer('h1', { cpu: [300, 50, 150], mem: [4096, 256, 1024] }),
      disk: { name: 'ssd', path: '/mnt/ssd/c1' },
      limits: { cpu: { boundary: 20 } },
    });
    expect(r.status).toBe(201);
    expect(r.body.orderSent).toBe(true);
    expect(r.body.container).toMatchObject({ host: 'h1', desiredVersion: 1, guard: true });
    expect(r.body.container.cores).toHaveLength(2); // 150 shares span two cores
    expect(r.body.limits.cpu).toMatchObject({ boundary: 20, boundary_type: 'percentage_of_max' });
    expect(r.body.limits.mem).toMatchObject({ boundary: 10 }); // the default
    const host = (await f.call('GET', '/hosts/h1')).body;
    expect(host.capacity.cpu.free).toBe(400 - 150);
    expect(host.capacity.mem.free).toBe(8192 - 1024);
    const allocated = Object.values(
      host.capacity.cpu.cores as Record<string, { alloc: Record<string, number> }>,
    )
      .map((c) => c.alloc.c1 ?? 0)
      .reduce((a, b) => a + b, 0);
    expect(allocated).toBe(150);
    expect(await f.tt.table.get(locatorKey('c1'))).toMatchObject({ host: 'h1' });
    const got = await f.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: host.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    const order = JSON.parse(got.Messages?.[0]?.Body ?? '{}');
    expect(order).toMatchObject({
      kind: 'scale-order',
      host: 'h1',
      container: 'c1',
      desiredVersion: 1,
      limits: { cpuShares: 150, memMiB: 1024 },
    });
  });

  it('shows the container with its resources, limits and applied state', async () => {
    const r = await f.call('GET', '/containers/c1');
    expect(r.status).toBe(200);
    expect(r.body.container.resources.cpu).toEqual({
      max: 300,
      min: 50,
      current: 150,
      guard: true,
      weight: 1,
    });
    expect(r.body.applied).toBeNull();
    const ls = await f.call('GET', '/containers');
    expect(ls.body.map((c: { name: string }) => c.name)).toEqual(['c1']);
  });

  it('answers 200 for a repeated identical subscription and 409 for a different one, changing nothing', async () => {
    const before = await f.snapshot();
    const same = await f.call('PUT', '/containers/c1', {
      ...aContainer('h1', { cpu: [300, 50, 150], mem: [4096, 256, 1024] }),
      disk: { name: 'ssd', path: '/mnt/ssd/c1' },
    });
    expect(same.status).toBe(200);
    const other = await f.call('PUT', '/containers/c1', aContainer('h1'));
    expect(other.status).toBe(409);
    expect(await f.snapshot()).toEqual(before);
  });

  it.each([
    [
      'a missing resource',
      { host: 'h1', resources: { cpu: { max: 100, min: 0, current: 50 } } },
      'resources.mem',
    ],
    ['a wrong type', { ...aContainer('h1'), guard: 'yes' }, 'guard'],
    ['current below min', aContainer('h1', { cpu: [100, 60, 50] }), 'resources.cpu.current'],
    ['min above max', aContainer('h1', { cpu: [100, 200, 150] }), 'resources.cpu.min'],
    [
      'an out-of-range boundary',
      { ...aContainer('h1'), limits: { cpu: { boundary: 101 } } },
      'limits.cpu.boundary',
    ],
    ['an unknown disk', { ...aContainer('h1'), disk: { name: 'hdd', path: '/x' } }, 'disk.name'],
    // h1 has 4 cores = 400 shares and 8192 MiB: a max above that could never be reached
    ['a cpu max above the host', aContainer('h1', { cpu: [401, 50, 100] }), 'resources.cpu.max'],
    ['a mem max above the host', aContainer('h1', { mem: [8193, 256, 1024] }), 'resources.mem.max'],
    [
      'disk bandwidth without a disk',
      {
        host: 'h1',
        resources: { ...aContainer('h1').resources, disk_read: { max: 10, min: 0, current: 5 } },
      },
      'disk',
    ],
  ])('refuses %s with 400 naming the field and changes nothing', async (_what, body, field) => {
    const before = await f.snapshot();
    const r = await f.call('PUT', '/containers/c2', body);
    expect(r.status).toBe(400);
    expect(r.body.field).toBe(field);
    expect(await f.snapshot()).toEqual(before);
  });

  it('answers 404 for an unknown host and for an unknown container', async () => {
    const before = await f.snapshot();
    const r = await f.call('PUT', '/containers/c2', aContainer('nohost'));
    expect(r.status).toBe(404);
    expect(r.body.message).toContain('nohost');
    expect((await f.call('GET', '/containers/nobody')).status).toBe(404);
    expect((await f.call('DELETE', '/containers/nobody')).status).toBe(404);
    expect(await f.snapshot()).toEqual(before);
  });

  it('answers 409 (not 400) for a container caught between its locator and its host item', async () => {
    await f.deps.store.claimLocator('halfway', 'h1'); // as a subscription does before admission
    const r = await f.call('GET', '/containers/halfway');
    expect(r.status).toBe(409);
    expect(r.body.message).toContain('being subscribed or unsubscribed');
    await f.deps.store.dropLocator('halfway');
  });

  it('refuses a container the host has no room for with 409 naming the resource, changing nothing', async () => {
    const before = await f.snapshot();
    // c1 holds 1024 of h1's 8192 MiB: 7168 free, less than 8000
    const r = await f.call('PUT', '/containers/big', aContainer('h1', { mem: [8192, 0, 8000] }));
    expect(r.status).toBe(409);
    expect(r.body.field).toBe('resources.mem.current');
    expect(await f.snapshot()).toEqual(before);
  });

  it('unsubscribing gives back exactly what subscribing took', async () => {
    const empty = (await f.call('GET', '/hosts/h1')).body.capacity;
    const sub = await f.call(
      'PUT',
      '/containers/c3',
      aContainer('h1', { cpu: [200, 10, 120], mem: [1024, 64, 512] }),
    );
    expect(sub.status).toBe(201);
    const taken = (await f.call('GET', '/hosts/h1')).body.capacity;
    expect(empty.cpu.free - taken.cpu.free).toBe(120);
    expect(empty.mem.free - taken.mem.free).toBe(512);
    const del = await f.call('DELETE', '/containers/c3');
    expect(del.status).toBe(200);
    expect((await f.call('GET', '/hosts/h1')).body.capacity).toEqual(empty);
    expect(await f.tt.table.get(locatorKey('c3'))).toBeNull();
    expect(await f.tt.table.get(keys.guard('h1', 'c3'))).toBeNull();
  });

  it('subscribes a container again under a used name above the version its host agent last applied', async () => {
    const spec = aContainer('h1', { cpu: [200, 10, 100], mem: [1024, 64, 256] });
    expect((await f.call('PUT', '/containers/c5', spec)).status).toBe(201);
    // the agent applied and reported version 7 (orders and the Guardian's raises) before the unsubscription
    await f.tt.table.put({
      ...keys.applied('h1', 'c5'),
      host: 'h1',
      container: 'c5',
      appliedVersion: 7,
      appliedAt: Date.now(),
      outcome: 'applied',
      limits: {
        cpuShares: 100,
        cpuset: null,
        memMiB: 256,
        diskReadMiBps: null,
        diskWriteMiBps: null,
        netMbps: null,
      },
      issues: [],
      via: 'order',
    });
    expect((await f.call('DELETE', '/containers/c5')).status).toBe(200);
    const again = await f.call('PUT', '/containers/c5', spec);
    expect(again.status).toBe(201);
    expect(again.body.container.desiredVersion).toBe(8); // not 1: the agent would drop 1 as stale
    expect((await f.call('DELETE', '/containers/c5')).status).toBe(200);
  });

  it('never over-commits a nearly full host under concurrent subscriptions', async () => {
    // h2: 2 cores = 200 shares, 4096 MiB. Each container asks 60 shares and 512 MiB → at most 3 fit (3 × 60 = 180 ≤ 200).
    expect((await f.call('PUT', '/hosts/h2', aHost({ cores: 2, memMiB: 4096 }))).status).toBe(201);
    const names = Array.from({ length: 8 }, (_, i) => `race${i}`);
    const answers = await Promise.all(
      names.map((n) =>
        f.call('PUT', `/containers/${n}`, aContainer('h2', { cpu: [100, 10, 60], mem: [1024, 64, 512] })),
      ),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    const admitted = names.filter((_, i) => statuses[i] === 201);
    // Lost races are re-planned from fresh state, so every container that fits gets in: exactly 3.
    expect(admitted).toHaveLength(3);
    const host = (await f.call('GET', '/hosts/h2')).body;
    expect(Object.keys(host.containers).sort()).toEqual(admitted.sort());
    expect(host.capacity.cpu.free).toBe(200 - 60 * admitted.length);
    expect(host.capacity.mem.free).toBe(4096 - 512 * admitted.length);
    for (const core of Object.values(
      host.capacity.cpu.cores as Record<string, { free: number; alloc: Record<string, number> }>,
    ))
      expect(core.free + Object.values(core.alloc).reduce((a, b) => a + b, 0)).toBe(100);
    for (const [i, n] of names.entries())
      expect((await f.tt.table.get(locatorKey(n))) !== null).toBe(statuses[i] === 201);
  });
});
