import { describe, expect, it } from '@jest/globals';
import { apiPath, type CliError, EXIT, httpClient } from '../../../cli/client.ts';

describe('apiPath', () => {
  it('percent-encodes each name into one segment', () => {
    expect(apiPath`/users/${'u 1'}/apps/${'a%2e?#/'.slice(0, 6)}`).toBe('/users/u%201/apps/a%252e%3F%23');
  });

  it('refuses a name that is empty, not well-formed Unicode, "." or "..", or holds "/" or "\\", as a usage error', () => {
    for (const name of ['', '.', '..', 'a/b', 'a\\b', '/', '\\', '\uD800', 'a\uDC00'])
      expect(() => apiPath`/users/u1/apps/${name}`).toThrow(
        expect.objectContaining({ name: 'CliError', exitCode: EXIT.usage }) as unknown as CliError,
      );
  });
});

describe('the HTTP client', () => {
  it('refuses a path that URL parsing would change, before sending anything', async () => {
    // Nothing listens on port 1: a request that went out would fail as unreachable (exit 3).
    const client = httpClient('http://127.0.0.1:1', 'token');
    for (const path of [
      '/users/u1/apps/..',
      '/apps/%2e%2E/containers/c3',
      '/apps//guard',
      '/a/b%2Fc',
      '/a\\b',
    ])
      await expect(client.request('DELETE', path)).rejects.toMatchObject({ exitCode: EXIT.usage });
  });
});
