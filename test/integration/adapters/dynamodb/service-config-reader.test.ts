import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ServiceConfigReader } from '../../../../adapters/dynamodb/service-config-reader.ts';
import { defaultConfig } from '../../../../core/contracts/service-config.ts';
import { keys } from '../../../../core/contracts/table-layout.ts';
import { captureLogger } from '../../../support/capture-logger.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS } from '../../../support/env.ts';

describe.each(DYNAMO_FLAVOURS)('ServiceConfigReader on %s', (flavour) => {
  let t: TestTable;
  beforeAll(async () => {
    t = await createTestTable(flavour);
  });
  afterAll(async () => {
    await t.drop();
  });

  const store = (config: unknown) =>
    t.table.put({ ...keys.service('sanity'), name: 'sanity', config, heartbeat: null, version: 1 });

  it('merges the stored settings over the defaults, and the defaults alone when none is stored', async () => {
    const { logger } = captureLogger();
    const reader = new ServiceConfigReader(t.table, 'sanity', { logger });
    expect(await reader.read()).toEqual(defaultConfig('sanity'));
    await store({ POLLING_FREQUENCY: 30 });
    expect(await reader.read()).toEqual({ ...defaultConfig('sanity'), POLLING_FREQUENCY: 30 });
  });

  it('keeps the last good config when the stored one is refused, and logs it', async () => {
    const { logger, lines } = captureLogger();
    const reader = new ServiceConfigReader(t.table, 'sanity', { logger });
    await store({ POLLING_FREQUENCY: 30 });
    await reader.read();
    await store({ POLLING_FREQUENCY: 'often' });
    expect(await reader.read()).toEqual({ ...defaultConfig('sanity'), POLLING_FREQUENCY: 30 });
    expect(lines().map((l) => l.msg)).toContain('service config not read; the last good one is kept');
  });

  it('throws when there never was a good one', async () => {
    const { logger } = captureLogger();
    await store({ POLLING_FREQUENCY: 'often' });
    await expect(new ServiceConfigReader(t.table, 'sanity', { logger }).read()).rejects.toThrow(
      /POLLING_FREQUENCY/,
    );
  });
});
