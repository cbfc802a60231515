import { GetQueueAttributesCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { keys } from '../../../../../core/contracts/table-layout.ts';
import { DYNAMO_FLAVOURS } from '../../../../support/env.ts';
import { anAppliedReport } from '../../../../support/ops-fixtures.ts';
import { type ApiFixture, aContainer, aHost, apiFixture, T0 } from '../harness.ts';

describe.each(DYNAMO_FLAVOURS)('host routes on %s', (flavour) => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await apiFixture(flavour);
  });
  afterAll(async () => {
    await f.close();
  });

  it('registers a host with every core free, its order queue and its DLQ', async () => {
    const r = await f.call('PUT', '/hosts/h1', aHost({ cores: 2, memMiB: 4096 }));
    expect(r.status).toBe(201);
    expect(r.body.version).toBe(1);
    expect(r.body.capacity.cpu).toMatchObject({ max: 200, free: 200 }); // 2 cores × 100 shares
    expect(r.body.capacity.cpu.cores).toEqual({
      '0': { free: 100, alloc: {} },
      '1': { free: 100, alloc: {} },
    });
    expect(r.body.capacity.mem).toEqual({ max: 4096, free: 4096 });
    expect(r.body.capacity.disks.ssd).toMatchObject({
      maxRead: 500,
      freeRead: 500,
      maxWrite: 300,
      freeWrite: 300,
    });
    const attrs = await f.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: r.body.queueUrl,
        AttributeNames: ['FifoQueue', 'RedrivePolicy'],
      }),
    );
    expect(attrs.Attributes?.FifoQueue).toBe('true');
    expect(attrs.Attributes?.RedrivePolicy).toContain('dlq');
    const read = await f.call('GET', '/hosts/h1');
    expect(read.status).toBe(200);
    expect(read.body.agent).toBeNull();
  });

  it('shows when the agent was last heard from: the newer of its heartbeat and its reports', async () => {
    const name = 'hseen';
    expect((await f.call('PUT', `/hosts/${name}`, aHost({ cores: 2, memMiB: 4096 }))).status).toBe(201);
    expect((await f.call('GET', `/hosts/${name}`)).body.agentSeenAt).toBeNull();
    const hb = { host: name, at: T0 - 300_000, agentVersion: '1', cgroupVersion: 'v1', containers: [] };
    await f.tt.table.put({ ...keys.agent(name), ...hb });
    expect((await f.call('GET', `/hosts/${name}`)).body).toMatchObject({
      agent: hb,
      agentSeenAt: T0 - 300_000,
    });
    // a report landed after the heartbeat (the agent skipped the heartbeats since)
    await f.tt.table.put({ ...keys.applied(name, 'c1'), ...anAppliedReport(name, 'c1', 3, T0 - 20_000) });
    expect((await f.call('GET', `/hosts/${name}`)).body.agentSeenAt).toBe(T0 - 20_000);
    await f.call('DELETE', `/hosts/${name}`);
  });

  it("serves the agent's heartbeat and topology before the host is registered, 404 before it reported", async () => {
    const name = 'hnew';
    expect((await f.call('GET', `/hosts/${name}/agent`)).status).toBe(404);
    const topology = {
      cpus: [
        { id: '0', socket: 0, core: 0 },
        { id: '1', socket: 0, core: 0 },
      ],
      smtSiblings: [['0', '1']],
      memMiB: 3900,
      disks: [{ name: 'vda', device: '254:0', sizeMiB: 262144 }],
    };
    const hb = { host: name, at: T0, agentVersion: '1', cgroupVersion: 'v2', containers: [], topology };
    await f.tt.table.put({ ...keys.agent(name), ...hb });
    const r = await f.call('GET', `/hosts/${name}/agent`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual(hb);
    expect((await f.call('GET', '/hosts/bad%20name/agent')).status).toBe(400);
  });

  it('answers 200 and writes nothing when the same registration is repeated', async () => {
    const before = await f.snapshot();
    const r = await f.call('PUT', '/hosts/h1', aHost({ cores: 2, memMiB: 4096 }));
    expect(r.status).toBe(200);
    expect(r.body.version).toBe(1);
    expect(await f.snapshot()).toEqual(before);
  });

  it('lists hosts with their free capacity', async () => {
    const r = await f.call('GET', '/hosts');
    expect(r.status).toBe(200);
    expect(r.body).toEqual([expect.objectContaining({ name: 'h1', cpu: { max: 200, free: 200, cores: 2 } })]);
  });

  it.each([
    ['a missing field', { cpu: { cores: 2 } }, 'memMiB'],
    ['a wrong type', { ...aHost(), cpu: { cores: '2' } }, 'cpu.cores'],
    ['an out-of-range value', { ...aHost(), memMiB: -1 }, 'memMiB'],
    ['neither cores nor topology', { ...aHost(), cpu: {} }, 'cpu.cores'],
    ['an unknown field', { ...aHost(), gpus: 2 }, ''],
  ])('refuses %s with 400 naming the field and changes nothing', async (_what, body, field) => {
    const before = await f.snapshot();
    const r = await f.call('PUT', '/hosts/h2', body);
    expect(r.status).toBe(400);
    if (field !== '') expect(r.body.field).toBe(field);
    else expect(r.body.message).toContain('gpus');
    expect(await f.snapshot()).toEqual(before);
    expect((await f.call('GET', '/hosts/h2')).status).toBe(404);
  });

  it('refuses an invalid host name with 400', async () => {
    const r = await f.call('PUT', '/hosts/bad%20name', aHost());
    expect(r.status).toBe(400);
    expect(r.body.message).toContain('host');
    expect(r.body.field).toBe('host');
  });

  it('refuses a host whose order queue would be another host’s (SQS names have no "."), changing nothing', async () => {
    const dotted = await f.call('PUT', '/hosts/rack1.node7', aHost());
    expect(dotted.status).toBe(201);
    const before = await f.snapshot();
    const r = await f.call('PUT', '/hosts/rack1_node7', aHost());
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ field: 'host' });
    expect(r.body.message).toContain('rack1.node7');
    expect(await f.snapshot()).toEqual(before);
    // the first host keeps its queue; deregistering it leaves no host behind without one
    expect((await f.call('DELETE', '/hosts/rack1.node7')).status).toBe(200);
    expect((await f.call('PUT', '/hosts/rack1_node7', aHost())).status).toBe(201);
    expect((await f.call('DELETE', '/hosts/rack1_node7')).status).toBe(200);
  });

  it('answers 404 for an unknown host', async () => {
    expect((await f.call('GET', '/hosts/nope')).status).toBe(404);
    expect((await f.call('DELETE', '/hosts/nope')).status).toBe(404);
  });

  it('answers 409 when If-Match names a version the host no longer has, and changes nothing', async () => {
    const before = await f.snapshot();
    const r = await f.call('PUT', '/hosts/h1', aHost({ cores: 4 }), { 'if-match': '0' });
    expect(r.status).toBe(409);
    expect(await f.snapshot()).toEqual(before);
  });

  it('answers 409 when If-Match names a version of a host that is not registered, creating nothing', async () => {
    const before = await f.snapshot();
    const r = await f.call('PUT', '/hosts/h9', aHost(), { 'if-match': '2' });
    expect(r.status).toBe(409);
    expect(await f.snapshot()).toEqual(before);
    await expect(
      f.sqs.send(new GetQueueUrlCommand({ QueueName: `${f.queuePrefix}h9.fifo` })),
    ).rejects.toThrow();
  });

  it('changes the capacity of an empty host', async () => {
    const r = await f.call('PUT', '/hosts/h1', aHost({ cores: 4, memMiB: 4096 }), { 'if-match': '1' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ version: 2, capacity: { cpu: { max: 400, free: 400 } } });
  });

  it('adds a disk and changes its bandwidth keeping what containers hold', async () => {
    await f.call('PUT', '/hosts/hd', aHost({ cores: 2 }));
    const sub = await f.call('PUT', '/containers/cd', {
      ...aContainer('hd'),
      resources: { ...aContainer('hd').resources, disk_read: { max: 200, min: 0, current: 100 } },
      disk: { name: 'ssd', path: '/mnt/ssd/cd' },
    });
    expect(sub.status).toBe(201);
    expect(
      (await f.call('PUT', '/hosts/hd/disks/nvme', { path: '/mnt/nvme', readMiBps: 2000, writeMiBps: 1000 }))
        .body,
    ).toMatchObject({ maxRead: 2000, freeRead: 2000 });
    const ssd = await f.call('PUT', '/hosts/hd/disks/ssd', {
      path: '/mnt/ssd',
      readMiBps: 400,
      writeMiBps: 300,
    });
    expect(ssd.body).toMatchObject({ maxRead: 400, freeRead: 300 }); // 400 − the 100 cd holds
    const before = await f.snapshot();
    const tooSmall = await f.call('PUT', '/hosts/hd/disks/ssd', {
      path: '/mnt/ssd',
      readMiBps: 50,
      writeMiBps: 300,
    });
    expect(tooSmall).toMatchObject({ status: 400, body: { field: 'readMiBps' } });
    expect(
      (await f.call('PUT', '/hosts/hd/disks/ssd', { path: 'relative', readMiBps: 5, writeMiBps: 5 })).body
        .field,
    ).toBe('path');
    expect(
      (await f.call('PUT', '/hosts/nohost/disks/ssd', { path: '/x', readMiBps: 5, writeMiBps: 5 })).status,
    ).toBe(404);
    expect(await f.snapshot()).toEqual(before);
    expect((await f.call('DELETE', '/containers/cd')).status).toBe(200);
    expect((await f.call('GET', '/hosts/hd')).body.capacity.disks.ssd).toMatchObject({
      maxRead: 400,
      freeRead: 400,
    });
  });

  it('refuses to change the capacity or deregister a host that has containers (409), then deregisters it when empty', async () => {
    expect((await f.call('PUT', '/containers/c1', aContainer('h1'))).status).toBe(201);
    const before = await f.snapshot();
    expect((await f.call('PUT', '/hosts/h1', aHost({ cores: 8 }))).status).toBe(409);
    expect(
      (await f.call('PUT', '/hosts/h1', { ...aHost({ cores: 4, memMiB: 4096 }), cpuPlacement: 'quota' }))
        .status,
    ).toBe(409);
    const del = await f.call('DELETE', '/hosts/h1');
    expect(del.status).toBe(409);
    expect(del.body.message).toContain('c1');
    expect(await f.snapshot()).toEqual(before);
    expect((await f.call('DELETE', '/containers/c1')).status).toBe(200);
    const { queueUrl } = (await f.call('GET', '/hosts/h1')).body;
    expect((await f.call('DELETE', '/hosts/h1')).status).toBe(200);
    expect((await f.call('GET', '/hosts/h1')).status).toBe(404);
    expect(queueUrl).toEqual(expect.any(String));
    await expect(
      f.sqs.send(new GetQueueUrlCommand({ QueueName: `${f.queuePrefix}h1.fifo` })),
    ).rejects.toThrow();
  });
});
