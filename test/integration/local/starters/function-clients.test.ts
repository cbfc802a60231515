import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createSqsClient } from '../../../../adapters/aws.ts';
import { ph, RECORD_ENV } from '../../../../adapters/aws-calls.ts';
import { functionClients } from '../../../../local/starters/function-clients.ts';
import { dynamoEndpoint, sqsEndpoint, uniqueName } from '../../../support/env.ts';

/** The local loop's control tick and sweeps record their AWS calls as the deployed functions do. */
describe('functionClients (local loop)', () => {
  let dir: string;
  let file: string;
  let was: string | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sc-fc-'));
    file = join(dir, 'calls.jsonl');
    was = process.env[RECORD_ENV];
    process.env[RECORD_ENV] = file;
  });
  afterEach(() => {
    if (was === undefined) delete process.env[RECORD_ENV];
    else process.env[RECORD_ENV] = was;
    rmSync(dir, { recursive: true, force: true });
  });
  const platform = (tableName: string, queuePrefix: string) => ({
    endpoints: { dynamodb: dynamoEndpoint('dynalite'), sqs: sqsEndpoint(), prometheus: null, opentsdb: null },
    tableName,
    queuePrefix,
  });
  const recorded = () =>
    readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  it('records a sweep’s table reads as that function’s, on the table’s template ARN', async () => {
    const table = uniqueName('fc');
    const c = functionClients(platform(table, 'sc-'), 'sanity');
    try {
      await c.dynamo
        .send(new GetCommand({ TableName: table, Key: { pk: 'a', sk: 'b' } }))
        .catch(() => undefined);
    } finally {
      c.destroy();
    }
    expect(recorded()).toContainEqual({
      deployable: 'sanity',
      action: 'dynamodb:GetItem',
      resource: `arn:${ph('Partition')}:dynamodb:${ph('Region')}:${ph('Account')}:table/${ph('Table')}`,
    });
  });

  it('records the control tick’s send of its next clock message against the clock queue', async () => {
    const setup = createSqsClient({ endpoint: sqsEndpoint(), region: 'us-east-1' });
    const prefix = `${uniqueName('fc')}-`;
    const url = (await setup.send(new CreateQueueCommand({ QueueName: `${prefix}control-clock` })))
      .QueueUrl as string;
    const c = functionClients(platform(uniqueName('fc'), prefix), 'controlTick', url);
    try {
      await c.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: '{}' }));
    } finally {
      c.destroy();
      setup.destroy();
    }
    expect(recorded()).toEqual([
      {
        deployable: 'controlTick',
        action: 'sqs:SendMessage',
        resource: `arn:${ph('Partition')}:sqs:${ph('Region')}:${ph('Account')}:${ph('ClockQueue')}`,
      },
    ]);
  });

  it('records nothing when SC_RECORD_AWS_CALLS is not set', async () => {
    delete process.env[RECORD_ENV];
    const table = uniqueName('fc');
    const c = functionClients(platform(table, 'sc-'), 'sanity');
    await c.dynamo
      .send(new GetCommand({ TableName: table, Key: { pk: 'a', sk: 'b' } }))
      .catch(() => undefined);
    c.destroy();
    expect(() => readFileSync(file, 'utf8')).toThrow(/ENOENT/);
  });
});
