/**
 * Hostile input through `sc` (issue 19): a name is one path segment taken
 * literally, a number is sent exactly as typed — or sc refuses, says why
 * (exit 2) and sends nothing.
 */
import { describe, expect, it } from '@jest/globals';
import type { ApiClient } from '../../../cli/client.ts';
import { main } from '../../../cli/main.ts';

function harness(answer: (method: string, path: string) => { status: number; body: unknown }) {
  const calls: { method: string; path: string; body: unknown }[] = [];
  const out: string[] = [];
  const err: string[] = [];
  const client: ApiClient = {
    async request(method, path, body) {
      calls.push({ method, path, body: body === undefined ? undefined : JSON.parse(JSON.stringify(body)) });
      return answer(method, path);
    },
  };
  return {
    calls,
    out,
    err,
    io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), env: {}, client },
  };
}

/** Refused as a usage error, with a message and no stack trace, and nothing sent. */
async function refused(args: string[], says: RegExp): Promise<void> {
  const h = harness((_m, path) => ({ status: 200, body: path === '/apps' ? [{ name: 'a1' }] : {} }));
  const code = await main(args, h.io);
  expect({ args, code, calls: h.calls }).toEqual({ args, code: 2, calls: [] });
  const text = h.err.join('\n');
  expect(text).toMatch(says);
  expect(text).not.toMatch(/TypeError|unexpected error|\n\s+at /);
}

describe('sc refuses names that would change the request path', () => {
  it('does not delete user u1 on `sc user unlink u1 ..`', async () => {
    await refused(['user', 'unlink', 'u1', '..'], /"\.\." cannot be a name/);
  });

  it('ends show and get of "." with a clear error, not a TypeError or the list as one structure', async () => {
    await refused(['host', 'show', '.'], /"\." cannot be a name/);
    await refused(['container', 'show', '.'], /"\." cannot be a name/);
    await refused(['config', 'get', '.'], /"\." cannot be a name/);
    await refused(['app', 'show', '.'], /"\." cannot be a name/);
    await refused(['app', 'detach', 'a2', '..'], /"\.\." cannot be a name/);
  });

  it('refuses empty names and names holding "/" or "\\"', async () => {
    await refused(['container', 'rm', ''], /"" cannot be a name/);
    await refused(['container', 'rm', 'a/b'], /"a\/b" cannot be a name/);
    await refused(['host', 'rm', 'a\\..'], /cannot be a name/);
    await refused(['user', 'rm', '../hosts/h1'], /cannot be a name/);
    await refused(['rule', 'add', '{"name":".."}'], /cannot be a name/);
  });

  it('percent-encodes every other name, so it reaches the API as typed', async () => {
    const h = harness(() => ({ status: 200, body: {} }));
    for (const name of ['a%2e', '%2e%2e', 'x?y#z', 'é ü', '...', '__proto__'])
      await main(['user', 'rm', name], h.io);
    expect(h.calls.map((c) => c.path)).toEqual([
      '/users/a%252e',
      '/users/%252e%252e',
      '/users/x%3Fy%23z',
      '/users/%C3%A9%20%C3%BC',
      '/users/...',
      '/users/__proto__',
    ]);
  });
});

describe('sc builds each path from its noun', () => {
  it('lists every noun at its root path', async () => {
    const h = harness(() => ({ status: 200, body: [] }));
    for (const noun of ['host', 'container', 'app', 'user', 'rule'])
      expect(await main([noun, 'ls'], h.io)).toBe(0);
    expect(h.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'GET /hosts',
      'GET /containers',
      'GET /apps',
      'GET /users',
      'GET /rules',
    ]);
  });
});

describe('sc sends numbers as typed or refuses them, naming the option', () => {
  it('refuses what JSON would change: 1e309 (null), 9007199254740993 (…992), +99999999999999999999 (1e20)', async () => {
    await refused(['config', 'set', 'guardian', 'WINDOW_TIMELAPSE', '1e309'], /WINDOW_TIMELAPSE.*1e309/);
    await refused(['container', 'set', 'c1', 'cpu', 'max=1e309'], /max.*1e309/);
    await refused(['host', 'add', 'h1', '--mem', '9007199254740993'], /--mem.*9007199254740993/);
    await refused(['scale', 'c1', 'mem', '--max', '9007199254740993'], /--max.*9007199254740993/);
    await refused(['scale', 'c1', 'cpu', '+99999999999999999999'], /step.*\+99999999999999999999/);
    await refused(
      ['container', 'add', 'c1', '--host', 'h1', '--cpu', '200:50:9007199254740993', '--mem', '1:1:1'],
      /--cpu.*9007199254740993/,
    );
    await refused(
      ['host', 'add', 'h1', '--mem', '1', '--topology', '[{"id":"0","socket":1e999,"core":0}]'],
      /--topology.*1e999/,
    );
    await refused(['rule', 'add', '{"name":"r1","amount":0.30000000000000001}'], /0\.30000000000000001/);
  });

  it('refuses a --watch period that is not a plain number of seconds up to a day (1e309 would redraw every millisecond)', async () => {
    for (const period of ['1e309', 'Infinity', '0x10', '86401', '0'])
      await refused(['status', '--watch', period], /--watch/);
  });

  it('sends numbers JSON keeps exactly, however they are written', async () => {
    const h = harness(() => ({ status: 200, body: { resource: {} } }));
    expect(await main(['container', 'set', 'c1', 'cpu', 'max=1.50', 'weight=15e-1'], h.io)).toBe(0);
    expect(await main(['config', 'set', 'guardian', 'K', '9007199254740991'], h.io)).toBe(0);
    expect(h.calls.map((c) => c.body)).toEqual([{ max: 1.5, weight: 1.5 }, { value: 9007199254740991 }]);
  });
});

describe('sc keeps names out of object prototypes', () => {
  it('sends a disk named __proto__ as a disk, not as the prototype of the disks', async () => {
    const h = harness(() => ({ status: 201, body: {} }));
    expect(
      await main(['host', 'add', 'h1', '--mem', '1024', '--disk', '__proto__:/data:100:100'], h.io),
    ).toBe(0);
    const disks = (h.calls[0]?.body as { disks?: object } | undefined)?.disks ?? {};
    expect(Object.hasOwn(disks, '__proto__')).toBe(true);
  });

  it('says a service has no config key "constructor" instead of printing a function', async () => {
    const h = harness(() => ({ status: 200, body: { name: 'guardian', config: { K: 1 } } }));
    expect(await main(['config', 'get', 'guardian', 'constructor'], h.io)).toBe(1);
    expect(h.out).toEqual([]);
    expect(h.err.join('\n')).toContain('has no config key constructor');
  });
});
