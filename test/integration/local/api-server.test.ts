import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { requireToken, startLocalApi } from '../../../local/api-server.ts';
import { type ApiFixture, aHost, apiFixture } from '../functions/api/harness.ts';

const TOKEN = 'test-token-1234';

describe('local API server', () => {
  let f: ApiFixture;
  let url: string;
  beforeAll(async () => {
    f = await apiFixture('dynalite');
    url = (await f.serve(TOKEN)).url;
  });
  afterAll(async () => {
    await f.close();
  });

  it('binds to 127.0.0.1', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('refuses to start without a token: no endpoint is open by default', async () => {
    expect(() => requireToken(undefined)).toThrow(/SC_API_TOKEN/);
    expect(() => requireToken('')).toThrow(/SC_API_TOKEN/);
    await expect(startLocalApi({ api: f.api, token: undefined })).rejects.toThrow(/SC_API_TOKEN/);
  });

  it('serves a token set with surrounding whitespace (e.g. read from a file) as the token itself', async () => {
    const padded = await startLocalApi({ api: f.api, token: `  ${TOKEN}\n` });
    try {
      const res = await fetch(`${padded.url}/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(200);
    } finally {
      await padded.stop();
    }
  });

  it('answers 401 without the bearer token or with a wrong one, and changes nothing', async () => {
    const before = await f.snapshot();
    for (const headers of [{}, { authorization: 'Bearer wrong-token-1234' }, { authorization: TOKEN }]) {
      const res = await fetch(`${url}/hosts/h9`, { method: 'PUT', headers, body: JSON.stringify(aHost()) });
      expect(res.status).toBe(401);
    }
    expect(await f.snapshot()).toEqual(before);
  });

  it('turns HTTP requests into the same events: path, query, method, body', async () => {
    const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const put = await fetch(`${url}/hosts/h9`, {
      method: 'PUT',
      headers: auth,
      body: JSON.stringify(aHost()),
    });
    expect(put.status).toBe(201);
    const status = await fetch(`${url}/status?host=h9`, { headers: auth });
    expect(await status.json()).toEqual([]);
    const bad = await fetch(`${url}/hosts/h9`, { method: 'PUT', headers: auth, body: '{"cpu":' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: 'body' });
  });

  it('refuses bodies over 1 MiB with 413', async () => {
    const res = await fetch(`${url}/hosts/h9`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: 'x'.repeat(1024 * 1024 + 1),
    });
    expect(res.status).toBe(413);
  });
});
