/** The Lambda handler, wired from its environment as on AWS, on dynalite and fauxqs. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { HttpEvent, HttpResult } from '../../../../functions/api/http.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { dynamoEndpoint, sqsEndpoint, uniqueName } from '../../../support/env.ts';

type Handler = (event: HttpEvent, context: object) => Promise<HttpResult>;

describe('api handler', () => {
  let tt: TestTable;
  let handler: Handler;
  const saved = { ...process.env };
  const event = (method: string, rawPath: string, body?: unknown): HttpEvent => ({
    version: '2.0',
    routeKey: '$default',
    rawPath,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    requestContext: { http: { method }, authorizer: { iam: { userArn: 'arn:aws:iam::1:user/op' } } },
  });

  beforeAll(async () => {
    tt = await createTestTable('dynalite');
    Object.assign(process.env, {
      SC_TABLE: tt.tableName,
      SC_QUEUE_PREFIX: `${uniqueName('h').replace(/-/g, '')}-`,
      AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint('dynalite'),
      AWS_ENDPOINT_URL_SQS: sqsEndpoint(),
      LOG_LEVEL: 'silent',
    });
    ({ handler } = (await import('../../../../functions/handlers/api.ts')) as unknown as {
      handler: Handler;
    });
  });
  afterAll(async () => {
    process.env = saved;
    await tt.drop();
  });

  it('answers API Gateway events: registers a host with its queues and reads it back', async () => {
    const put = await handler(event('PUT', '/hosts/h1', { cpu: { cores: 2 }, memMiB: 1024 }), {});
    expect(put.statusCode).toBe(201);
    expect(JSON.parse(put.body).queueUrl).toContain('h1.fifo');
    const get = await handler(event('GET', '/hosts/h1'), {});
    expect(JSON.parse(get.body)).toMatchObject({ name: 'h1', capacity: { cpu: { max: 200 } } });
  });

  it('answers 400 naming the field, and 404 for unknown routes, as JSON', async () => {
    const bad = await handler(event('PUT', '/hosts/h2', { cpu: { cores: 0 }, memMiB: 1024 }), {});
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toContain('application/json');
    expect(JSON.parse(bad.body).field).toBe('cpu.cores');
    expect((await handler(event('GET', '/nowhere'), {})).statusCode).toBe(404);
  });
});
