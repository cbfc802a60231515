import { describe, expect, it } from '@jest/globals';
import type { ApiClient } from '../../../cli/client.ts';
import { configValue, main } from '../../../cli/main.ts';

function harness(answer: (method: string, path: string, body: unknown) => { status: number; body: unknown }) {
  const calls: { method: string; path: string; body: unknown; query: unknown }[] = [];
  const out: string[] = [];
  const err: string[] = [];
  const client: ApiClient = {
    async request(method, path, body, query) {
      calls.push({ method, path, body, query });
      return answer(method, path, body);
    },
  };
  return {
    calls,
    out,
    err,
    io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), env: {}, client },
  };
}

describe('sc (in-process, with a fake API client)', () => {
  it('turns container add options into a subscription body', async () => {
    const h = harness(() => ({
      status: 201,
      body: { container: { host: 'h1', cores: ['0'] }, orderSent: true },
    }));
    const code = await main(
      [
        'container',
        'add',
        'c1',
        '--host',
        'h1',
        '--cpu',
        '200:50:100',
        '--mem',
        '2048:256:1024',
        '--boundary',
        '15',
        '--no-guard',
      ],
      h.io,
    );
    expect(code).toBe(0);
    expect(h.calls[0]).toMatchObject({
      method: 'PUT',
      path: '/containers/c1',
      body: {
        host: 'h1',
        guard: false,
        resources: { cpu: { max: 200, min: 50, current: 100 }, mem: { max: 2048, min: 256, current: 1024 } },
        limits: { cpu: { boundary: 15 }, mem: { boundary: 15 } },
      },
    });
    expect(h.out.join('\n')).toContain('subscribed to h1 on cores 0');
  });

  it('sends scale steps and new maxima as manual requests', async () => {
    const h = harness(() => ({
      status: 200,
      body: { unchanged: false, request: { accepted: 1, orders: 1, rejected: [] } },
    }));
    expect(await main(['scale', 'c1', 'cpu', '+100'], h.io)).toBe(0);
    expect(await main(['scale', 'c1', 'mem', '--max', '4096'], h.io)).toBe(0);
    expect(h.calls.map((c) => c.body)).toEqual([
      { structure: 'c1', resource: 'cpu', amount: 100 },
      { structure: 'c1', resource: 'mem', max: 4096 },
    ]);
  });

  it('says where the planner left the resource, so a trimmed step shows', async () => {
    const h = harness(() => ({
      status: 200,
      body: {
        unchanged: false,
        request: { accepted: 1, orders: 1, rejected: [] },
        resource: { max: 350, min: 50, current: 350, guard: true, weight: 1 },
      },
    }));
    expect(await main(['scale', 'c1', 'cpu', '+400'], h.io)).toBe(0);
    expect(h.out.join('\n')).toBe(
      'planner accepted 1, 1 order(s) sent; c1 cpu now current 350, min 50, max 350',
    );
  });

  it('exits 1 and names the field when the API refuses, 2 on a usage error (without calling the API)', async () => {
    const h = harness(() => ({
      status: 400,
      body: { error: 'ValidationError', message: 'invalid body.max: too small', field: 'max' },
    }));
    expect(await main(['container', 'set', 'c1', 'cpu', 'max=1'], h.io)).toBe(1);
    expect(h.err.join('\n')).toBe('sc: invalid body.max: too small (field: max) [HTTP 400]');
    const before = h.calls.length;
    expect(await main(['scale', 'c1', 'cpu', 'lots'], h.io)).toBe(2);
    expect(await main(['container', 'set', 'c1', 'cpu', 'size=3'], h.io)).toBe(2);
    expect(await main(['nonsense'], h.io)).toBe(2);
    expect(h.calls.length).toBe(before);
  });

  it("changes an application's or a user's resources, guard and limits without replacing the rest", async () => {
    const h = harness(() => ({ status: 200, body: { resource: { max: 900 }, limits: {} } }));
    expect(await main(['app', 'set', 'web', 'cpu', 'max=900', 'weight=2'], h.io)).toBe(0);
    expect(await main(['app', 'guard', 'web'], h.io)).toBe(0);
    expect(await main(['app', 'unguard', 'web', 'mem'], h.io)).toBe(0);
    expect(await main(['app', 'limits', 'web', 'cpu', '--boundary', '15'], h.io)).toBe(0);
    expect(await main(['user', 'set', 'ana', 'cpu', 'max=2000'], h.io)).toBe(0);
    expect(h.calls.map(({ method, path, body }) => ({ method, path, body }))).toEqual([
      { method: 'PUT', path: '/apps/web/resources/cpu', body: { max: 900, weight: 2 } },
      { method: 'PUT', path: '/apps/web/guard', body: { guard: true } },
      { method: 'PUT', path: '/apps/web/guard', body: { guard: false, resources: ['mem'] } },
      { method: 'PUT', path: '/apps/web/limits/cpu', body: { boundary: 15 } },
      { method: 'PUT', path: '/users/ana/resources/cpu', body: { max: 2000 } },
    ]);
  });

  it("prints the sanity sweep's recent findings under the status table, and lists them with sc findings", async () => {
    const now = Date.now();
    const findings = [
      { structure: 'c1', at: now - 30_000, check: 'lagging', action: 'resent', text: 'c1 on h1: lagging' },
    ];
    const h = harness((_m, path) =>
      path === '/findings'
        ? { status: 200, body: findings }
        : {
            status: 200,
            body: [
              {
                container: 'c1',
                resource: 'cpu',
                guard: true,
                usage: 50,
                current: 100,
                applied: 100,
                max: 200,
              },
            ],
          },
    );
    expect(await main(['status'], h.io)).toBe(0);
    const text = h.out.join('\n');
    expect(text).toMatch(/^CONTAINER/);
    expect(text).toMatch(
      /FINDINGS \(last 10 min\)\n.*WHEN\s+STRUCTURE\s+CHECK\s+ACTION\s+TEXT\n30s ago\s+c1\s+lagging\s+resent\s+c1 on h1: lagging/,
    );
    h.out.length = 0;
    expect(await main(['findings', '--host', 'h1', '--since', '3600'], h.io)).toBe(0);
    expect(h.calls.at(-1)).toMatchObject({
      method: 'GET',
      path: '/findings',
      query: { host: 'h1', since: '3600' },
    });
    expect(h.out.join('\n')).toContain('c1 on h1: lagging');
  });

  it('marks a stale service under the status table (active and silent: its loop is not running)', async () => {
    const now = Date.now();
    const services = [
      { name: 'guardian', heartbeat: null, stale: true },
      { name: 'scaler', heartbeat: now - 10_000, stale: false },
      { name: 'sanity', heartbeat: now - 600_000, stale: true },
    ];
    const rows = [{ container: 'c1', resource: 'cpu', guard: true, usage: 0, current: 100, max: 200 }];
    const h = harness((_m, path) =>
      path === '/services'
        ? { status: 200, body: services }
        : path === '/findings'
          ? { status: 200, body: [] }
          : { status: 200, body: rows },
    );
    expect(await main(['status'], h.io)).toBe(0);
    const text = h.out.join('\n');
    expect(text).toMatch(
      /\nSTALE SERVICES \(active, no heartbeat for three periods\)\nSERVICE\s+HEARTBEAT\n/,
    );
    expect(text).toMatch(/\nguardian\s+never\n/);
    expect(text).toMatch(/\nsanity\s+10m ago$/);
    expect(text).not.toMatch(/\nscaler\s/);
    expect(text).toMatch(/\nc1\s+cpu\s+yes\s+0\s+100/); // an idle reading is 0, not '-'
    // None stale: no section; --json keeps the status rows alone.
    services.forEach((s) => {
      s.stale = false;
    });
    h.out.length = 0;
    expect(await main(['status'], h.io)).toBe(0);
    expect(h.out.join('\n')).not.toContain('STALE');
    services[0] = { name: 'guardian', heartbeat: null, stale: true };
    h.out.length = 0;
    expect(await main(['--json', 'status'], h.io)).toBe(0);
    expect(JSON.parse(h.out.join('\n'))).toEqual(rows);
  });

  it('asks for --boundary or --type on container limits before calling the API', async () => {
    const h = harness(() => ({ status: 200, body: { limits: {} } }));
    expect(await main(['container', 'limits', 'c1', 'cpu'], h.io)).toBe(2);
    expect(h.err.join('\n')).toContain('--boundary');
    expect(h.calls).toEqual([]);
  });

  it('refuses rule JSON that is not an object with a name as a usage error, without calling the API', async () => {
    const h = harness(() => ({ status: 201, body: {} }));
    for (const text of ['{"generates":"events"}', 'null', '[1,2]', '"CpuRescaleUp"', '{"name":7}']) {
      h.err.length = 0;
      expect({ text, code: await main(['rule', 'add', text], h.io) }).toEqual({ text, code: 2 });
      expect(h.err.join('\n')).toContain('name');
    }
    expect(h.calls).toEqual([]);
  });

  it("shows a host's agent as heard from by its reports when it has written no heartbeat yet", async () => {
    const now = Date.now();
    const h = harness(() => ({
      status: 200,
      body: {
        name: 'h1',
        version: 3,
        cpuPlacement: 'pinned',
        capacity: {
          cpu: { max: 100, free: 50, cores: { '0': { free: 50, alloc: { c1: 50 } } } },
          mem: { max: 1024, free: 512 },
        },
        containers: { c1: {} },
        agent: null, // the agent skips heartbeats while its reports land
        agentSeenAt: now - 5_000,
      },
    }));
    expect(await main(['host', 'show', 'h1'], h.io)).toBe(0);
    const agentLine = h.out
      .join('\n')
      .split('\n')
      .find((l) => l.startsWith('agent'));
    expect(agentLine).toMatch(/^agent\s+heard from [4-6]s ago$/);
  });

  it('exits 3 when the API fails with a 5xx', async () => {
    const h = harness(() => ({ status: 500, body: { error: 'InternalError', message: 'unexpected error' } }));
    expect(await main(['host', 'ls'], h.io)).toBe(3);
  });

  it('prints JSON with --json', async () => {
    const h = harness(() => ({ status: 200, body: [{ name: 'h1' }] }));
    expect(await main(['--json', 'user', 'ls'], h.io)).toBe(0);
    expect(JSON.parse(h.out.join(''))).toEqual([{ name: 'h1' }]);
  });

  it('prints errors as one JSON line on stderr with --json (API refusals and usage mistakes found by sc)', async () => {
    const refused = harness(() => ({
      status: 400,
      body: { error: 'ValidationError', message: 'must be ≤ max', field: 'resources.cpu.min' },
    }));
    expect(await main(['--json', 'host', 'ls'], refused.io)).toBe(1);
    expect(refused.out).toEqual([]);
    expect(JSON.parse(refused.err.join(''))).toEqual({
      exitCode: 1,
      status: 400,
      error: 'ValidationError',
      message: 'must be ≤ max',
      field: 'resources.cpu.min',
    });
    const usage = harness(() => ({ status: 200, body: {} }));
    expect(await main(['--json', 'container', 'limits', 'c1', 'cpu'], usage.io)).toBe(2);
    expect(JSON.parse(usage.err.join(''))).toEqual({
      exitCode: 2,
      message: 'give --boundary <percent> or --type <type>',
    });
  });
});

describe('configValue', () => {
  it('types values that parse as JSON and keeps other text as a string', () => {
    expect(configValue('10')).toBe(10);
    expect(configValue('0.4')).toBe(0.4);
    expect(configValue('true')).toBe(true);
    expect(configValue('["cpu","mem"]')).toEqual(['cpu', 'mem']);
    expect(configValue('container')).toBe('container');
  });
});

describe('sc host add --from-agent', () => {
  const report = {
    host: 'h1',
    at: 1,
    agentVersion: '0.1.0',
    cgroupVersion: 'v2',
    containers: [],
    topology: {
      cpus: [
        { id: '0', socket: 0, core: 0 },
        { id: '1', socket: 0, core: 0 },
      ],
      smtSiblings: [['0', '1']],
      memMiB: 3900,
      disks: [],
    },
  };
  it('registers the host with the CPU topology and memory its agent reported', async () => {
    const h = harness((method) =>
      method === 'GET' ? { status: 200, body: report } : { status: 201, body: { name: 'h1', version: 1 } },
    );
    expect(await main(['host', 'add', 'h1', '--from-agent', '--placement', 'quota'], h.io)).toBe(0);
    expect(h.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET /hosts/h1/agent', 'PUT /hosts/h1']);
    expect(h.calls[1]?.body).toMatchObject({
      cpu: { topology: report.topology.cpus },
      memMiB: 3900,
      cpuPlacement: 'quota',
    });
  });
  it('takes a smaller --mem (a reservation for the host) and refuses a larger one, registering nothing', async () => {
    const h = harness((method) =>
      method === 'GET' ? { status: 200, body: report } : { status: 201, body: { name: 'h1', version: 1 } },
    );
    expect(await main(['host', 'add', 'h1', '--from-agent', '--mem', '3000'], h.io)).toBe(0);
    expect(h.calls[1]?.body).toMatchObject({ memMiB: 3000 });
    const refused = harness(() => ({ status: 200, body: report }));
    expect(await main(['host', 'add', 'h1', '--from-agent', '--mem', '5000'], refused.io)).not.toBe(0);
    expect(refused.calls.map((c) => c.method)).toEqual(['GET']);
    expect(refused.err.join('\n')).toMatch(/above the 3900 MiB the agent reported/);
  });
  it('says so when the agent reported no topology, and still needs --mem without it', async () => {
    const old = harness(() => ({ status: 200, body: { ...report, topology: undefined } }));
    expect(await main(['host', 'add', 'h1', '--from-agent'], old.io)).not.toBe(0);
    expect(old.err.join('\n')).toMatch(/reported no topology/);
    const none = harness(() => ({ status: 201, body: {} }));
    expect(await main(['host', 'add', 'h1', '--cores', '2'], none.io)).not.toBe(0);
    expect(none.calls).toEqual([]);
  });
});
