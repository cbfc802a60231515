import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { keys } from '../../../../core/contracts/table-layout.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { dynamoEndpoint, victoriaPromUrl } from '../../../support/env.ts';
import { putGuardianConfig } from '../../../support/guardian-fixtures.ts';

// The handler builds its clients at module scope from the environment, so it is
// imported once, against dynalite; the tick's state behaviour is covered on both
// DynamoDB flavours by the use-case tests.
describe('control-tick handler', () => {
  let t: TestTable;
  beforeAll(async () => {
    t = await createTestTable('dynalite');
    await putGuardianConfig(t.table, { WINDOW_TIMELAPSE: 1, WINDOW_DELAY: 0, EVENT_TIMEOUT: 10 });
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint('dynalite'),
      SC_TABLE: t.tableName,
      SC_METRICS_BACKEND: 'prometheus',
      SC_METRICS_URL: victoriaPromUrl(),
      SC_TICK_RESERVE_MS: '300',
      LOG_LEVEL: 'silent',
    });
  });
  afterAll(async () => {
    await t.drop();
  });

  it('ticks until shortly before the invocation deadline and releases the lease', async () => {
    const { handler } = await import('../../../../functions/handlers/control-tick.ts');
    const deadline = Date.now() + 2800;
    const context = { awsRequestId: 'req-1', getRemainingTimeInMillis: () => deadline - Date.now() };
    const out = await handler({}, context as never);
    expect(out).toMatchObject({ stopped: 'deadline', requests: 0 });
    expect((out as { ticks: number }).ticks).toBeGreaterThanOrEqual(1);
    expect(Date.now()).toBeLessThanOrEqual(deadline);
    expect(await t.table.get(keys.lease('control-tick'))).toMatchObject({ owner: 'req-1', expiresAt: 0 });
  });
});
