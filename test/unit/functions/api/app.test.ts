import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { createApi } from '../../../../functions/api/app.ts';

const api = createApi({} as never, { error() {} });

describe('the API', () => {
  it('has one route per method and path', () => {
    const keys = api.routes.map((r) => `${r.method} ${r.path}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('is documented route by route in docs/api.md', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', '..', '..', '..', 'docs', 'api.md'), 'utf8');
    const documented = [...doc.matchAll(/^\|\s*(GET|PUT|POST|DELETE)\s*\|\s*`([^`]+)`\s*\|/gm)].map(
      (m) => `${m[1]} ${m[2]}`,
    );
    expect(documented.sort()).toEqual(api.routes.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('covers the capabilities of the original Orchestrator', () => {
    const has = (method: string, path: string) =>
      api.routes.some((r) => r.method === method && r.path === path);
    for (const [method, path] of [
      ['PUT', '/hosts/{host}'],
      ['DELETE', '/hosts/{host}'],
      ['PUT', '/hosts/{host}/disks/{disk}'],
      ['PUT', '/containers/{container}'],
      ['DELETE', '/containers/{container}'],
      ['PUT', '/apps/{app}/containers/{container}'],
      ['PUT', '/users/{user}/apps/{app}'],
      ['PUT', '/containers/{container}/resources/{resource}'],
      ['PUT', '/containers/{container}/guard'],
      ['PUT', '/containers/{container}/limits/{resource}'],
      ['PUT', '/rules/{rule}/events-required'],
      ['PUT', '/services/{service}/config/{key}'],
      ['POST', '/requests'],
      ['GET', '/status'],
    ])
      expect(has(method as string, path as string)).toBe(true);
  });

  it('builds an OpenAPI 3.1 document with a request schema for every route that takes a body', () => {
    const doc = api.openApi() as {
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: unknown }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    for (const r of api.routes) {
      const op = doc.paths[r.path]?.[r.method.toLowerCase()];
      expect(op).toBeDefined();
      expect(op?.requestBody !== undefined).toBe(r.body !== undefined);
    }
  });
});
