import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { ConflictError, NotFoundError, StaleStateError } from '../../../../core/errors.ts';
import type { HttpEvent } from '../../../../functions/api/http.ts';
import { openApiDocument, Router, route } from '../../../../functions/api/router.ts';

const PARAMS = { name: z.string().regex(/^[a-z]+$/, { message: 'must be lowercase letters' }) };

function event(
  method: string,
  rawPath: string,
  body?: string,
  headers: Record<string, string> = {},
): HttpEvent {
  return {
    rawPath,
    headers,
    ...(body === undefined ? {} : { body }),
    requestContext: { http: { method } },
  };
}

const errors: unknown[] = [];
const router = new Router(
  [
    route({
      method: 'PUT',
      path: '/things/{name}',
      tag: 't',
      summary: 'put a thing',
      body: z.strictObject({ size: z.number().int().min(1), colour: z.string().optional() }),
      ok: 201,
      ifMatch: true,
      async handle({ params, body, ifMatch }) {
        return { status: 201, body: { name: params.name, size: body.size, ifMatch } };
      },
    }),
    route({
      method: 'DELETE',
      path: '/things/{name}/label',
      tag: 't',
      summary: 'drop a label (nothing versioned to match)',
      async handle({ params }) {
        return { status: 200, body: { deleted: params.name } };
      },
    }),
    route({
      method: 'GET',
      path: '/things/{name}',
      tag: 't',
      summary: 'get a thing',
      async handle({ params }) {
        if (params.name === 'missing') throw new NotFoundError('thing missing not found');
        if (params.name === 'busy') throw new ConflictError('busy', { context: { field: 'name' } });
        if (params.name === 'stale') throw new StaleStateError('changed concurrently', null);
        if (params.name === 'boom') throw new Error('kaboom');
        return { status: 200, body: { name: params.name } };
      },
    }),
  ],
  PARAMS,
  (err) => errors.push(err),
);

async function call(e: HttpEvent) {
  const r = await router.handle(e);
  return { status: r.statusCode, body: JSON.parse(r.body) as Record<string, unknown> };
}

describe('Router', () => {
  it('routes by method and path template and passes typed params, body and If-Match', async () => {
    const r = await call(event('PUT', '/things/box', '{"size":3}', { 'If-Match': '"7"' }));
    expect(r).toEqual({ status: 201, body: { name: 'box', size: 3, ifMatch: 7 } });
  });

  it('refuses a trailing slash: an empty segment is not a name (paths are taken literally)', async () => {
    const r = await call(event('GET', '/things/box/'));
    expect(r.status).toBe(400);
    expect(r.body.field).toBe('path');
  });

  it('names the failing body field on a wrong type, a missing field and an unknown field', async () => {
    const wrongType = await call(event('PUT', '/things/box', '{"size":"3"}'));
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.field).toBe('size');
    expect(wrongType.body.message).toContain('body.size');
    const missing = await call(event('PUT', '/things/box', '{}'));
    expect(missing.body.field).toBe('size');
    const unknown = await call(event('PUT', '/things/box', '{"size":1,"weight":2}'));
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toContain('weight');
  });

  it('refuses a body that is not JSON, and an out-of-range value', async () => {
    expect(await call(event('PUT', '/things/box', '{size'))).toEqual({
      status: 400,
      body: { error: 'ValidationError', message: 'invalid request.body: is not valid JSON', field: 'body' },
    });
    expect((await call(event('PUT', '/things/box'))).body.field).toBe('body');
    const r = await call(event('PUT', '/things/box', '{"size":0}'));
    expect(r.status).toBe(400);
    expect(r.body.field).toBe('size');
  });

  it('names a bad path parameter in the message and in field', async () => {
    const r = await call(event('GET', '/things/BOX'));
    expect(r).toEqual({
      status: 400,
      body: {
        error: 'ValidationError',
        message: 'invalid path.name: must be lowercase letters',
        field: 'name',
      },
    });
  });

  it('answers 404 for unknown routes and 405 for a known path with another method', async () => {
    expect((await call(event('GET', '/nothing'))).status).toBe(404);
    expect((await call(event('DELETE', '/things/box'))).status).toBe(405);
  });

  it('maps typed errors: not found 404, conflict and stale state 409', async () => {
    expect((await call(event('GET', '/things/missing'))).status).toBe(404);
    expect(await call(event('GET', '/things/busy'))).toEqual({
      status: 409,
      body: { error: 'ConflictError', message: 'busy', field: 'name' },
    });
    expect((await call(event('GET', '/things/stale'))).status).toBe(409);
  });

  it('answers 500 without details for unexpected errors and reports them', async () => {
    const r = await call(event('GET', '/things/boom'));
    expect(r.status).toBe(500);
    expect(JSON.stringify(r.body)).not.toContain('kaboom');
    expect(String(errors.at(-1))).toContain('kaboom');
  });

  it('refuses a malformed If-Match and bad percent-encoding with 400', async () => {
    expect((await call(event('PUT', '/things/box', '{"size":1}', { 'if-match': 'abc' }))).body.field).toBe(
      'If-Match',
    );
    expect((await call(event('GET', '/things/%E0%A4%A'))).status).toBe(400);
  });

  it('refuses If-Match on a route that has no version to match (400), instead of ignoring it', async () => {
    const r = await call(event('DELETE', '/things/box/label', undefined, { 'If-Match': '3' }));
    expect(r.status).toBe(400);
    expect(r.body.field).toBe('If-Match');
    expect(r.body.message).toContain('DELETE /things/{name}/label');
    expect((await call(event('DELETE', '/things/box/label'))).status).toBe(200);
  });

  it('documents If-Match only on the routes that honour it', () => {
    const doc = openApiDocument(router.routes, PARAMS, { title: 't', version: '1' }) as {
      paths: Record<string, Record<string, { parameters: { name: string }[] }>>;
    };
    const names = (path: string, method: string) => doc.paths[path]?.[method]?.parameters.map((p) => p.name);
    expect(names('/things/{name}', 'put')).toEqual(['name', 'If-Match']);
    expect(names('/things/{name}/label', 'delete')).toEqual(['name']);
  });

  it('generates an OpenAPI document whose request schemas are the validating schemas', () => {
    const doc = openApiDocument(router.routes, PARAMS, { title: 't', version: '1' }) as {
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: unknown }> } }>
      >;
    };
    const put = doc.paths['/things/{name}']?.put;
    expect(put?.requestBody?.content['application/json']?.schema).toMatchObject({
      type: 'object',
      required: ['size'],
      properties: { size: { type: 'integer', minimum: 1 } },
      additionalProperties: false,
    });
    expect(Object.keys(doc.paths['/things/{name}'] ?? {}).sort()).toEqual(['get', 'put']);
  });
});
