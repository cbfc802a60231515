import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Catalog } from '../../../../adapters/dynamodb/catalog.ts';
import type { Rule } from '../../../../core/contracts/rule.ts';
import { defaultConfig } from '../../../../core/contracts/service-config.ts';
import { keys } from '../../../../core/contracts/table-layout.ts';
import { NotFoundError, StaleStateError, ValidationError } from '../../../../core/errors.ts';
import { DEFAULT_RULES } from '../../../../core/policy/default-rules.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS } from '../../../support/env.ts';

function ruleNamed(name: string): Rule {
  const rule = DEFAULT_RULES.find((r) => r.name === name);
  if (rule === undefined) throw new Error(`no default rule ${name}`);
  return structuredClone(rule);
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => null,
    (e: unknown) => e,
  );
}

describe.each(DYNAMO_FLAVOURS)('Catalog on %s', (flavour) => {
  let t: TestTable;
  let catalog: Catalog;
  beforeAll(async () => {
    t = await createTestTable(flavour);
    catalog = new Catalog(t.table);
  });
  afterAll(async () => {
    await t.drop();
  });

  describe('rules', () => {
    it('stores a rule at version 1 and reads it back equal', async () => {
      const rule = ruleNamed('CpuRescaleUp');
      const stored = await catalog.putRule(rule, { expectedVersion: null });
      expect(stored.version).toBe(1);
      expect(await catalog.getRule('CpuRescaleUp')).toEqual({ rule, version: 1 });
    });

    it('bumps the version on each replace and refuses a write against an old version', async () => {
      const rule = ruleNamed('MemRescaleUp');
      await catalog.putRule(rule, { expectedVersion: null });
      const v2 = await catalog.putRule({ ...rule, amount: 512 });
      expect(v2.version).toBe(2);
      const err = await rejection(catalog.putRule({ ...rule, amount: 128 }, { expectedVersion: 1 }));
      expect(err).toBeInstanceOf(StaleStateError);
      expect((err as StaleStateError<Record<string, unknown>>).current).toMatchObject({
        amount: 512,
        version: 2,
      });
      expect((await catalog.getRule('MemRescaleUp'))?.rule).toMatchObject({ amount: 512 });
    });

    it('rejects a malformed rule naming the field and writes nothing', async () => {
      const bad = { ...ruleNamed('NetRescaleUp'), rescale_policy: 'double_it' };
      const err = await rejection(catalog.putRule(bad));
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).field).toBe('rescale_policy');
      expect(await catalog.getRule('NetRescaleUp')).toBeNull();
    });

    it('lists every stored rule by name', async () => {
      await catalog.putRule(ruleNamed('cpu_exceeded_upper'));
      const names = (await catalog.listRules()).map((r) => r.rule.name);
      expect(names).toEqual(['CpuRescaleUp', 'MemRescaleUp', 'cpu_exceeded_upper']);
    });

    it('reports a stored rule that no longer parses instead of using it', async () => {
      await t.table.put({ ...keys.rule('broken'), name: 'broken', resource: 'gpu', version: 1 });
      const err = await rejection(catalog.getRule('broken'));
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as Error).message).toMatch(/^invalid stored rule broken\./);
      await t.table.deleteVersioned(keys.rule('broken'), 1, 'rule broken');
    });

    it('deletes a rule only at the expected version', async () => {
      const stored = await catalog.putRule(ruleNamed('Disk_readRescaleUp'));
      await expect(
        catalog.deleteRule('Disk_readRescaleUp', { expectedVersion: stored.version + 1 }),
      ).rejects.toBeInstanceOf(StaleStateError);
      await catalog.deleteRule('Disk_readRescaleUp', { expectedVersion: stored.version });
      expect(await catalog.getRule('Disk_readRescaleUp')).toBeNull();
      await expect(catalog.deleteRule('Disk_readRescaleUp')).rejects.toBeInstanceOf(NotFoundError);
    });
  });

  describe('service configs', () => {
    it('gives the defaults when nothing is stored', async () => {
      expect(await catalog.loadServiceConfig('sanity')).toEqual(defaultConfig('sanity'));
    });

    it('loads a config eventually consistent when asked, for half the read units', async () => {
      await catalog.putServiceConfig('guardian', { WINDOW_TIMELAPSE: 20 });
      const before = t.table.counters.readUnits;
      expect((await catalog.loadServiceConfig('guardian', { consistent: false })).WINDOW_TIMELAPSE).toBe(20);
      expect(t.table.counters.readUnits - before).toBe(0.5);
    });

    it('merges stored settings over the defaults', async () => {
      await catalog.putServiceConfig('guardian', { WINDOW_TIMELAPSE: 10, DRY_RUN: true });
      const config = await catalog.loadServiceConfig('guardian');
      expect(config).toEqual({ ...defaultConfig('guardian'), WINDOW_TIMELAPSE: 10, DRY_RUN: true });
      expect((await catalog.getService('guardian'))?.config).toEqual({ WINDOW_TIMELAPSE: 10, DRY_RUN: true });
    });

    it('rejects a malformed config naming the field and writes nothing', async () => {
      await catalog.putServiceConfig('scaler', { REQUEST_TIMEOUT: 10 });
      const wrongType = await rejection(catalog.putServiceConfig('scaler', { REQUEST_TIMEOUT: 'soon' }));
      expect(wrongType).toBeInstanceOf(ValidationError);
      expect((wrongType as ValidationError).field).toBe('REQUEST_TIMEOUT');
      const unknownKey = await rejection(catalog.putServiceConfig('scaler', { REQUEST_TIMEOUTS: 10 }));
      expect((unknownKey as ValidationError).field).toBe('REQUEST_TIMEOUTS');
      const unknownService = await rejection(catalog.putServiceConfig('planner', {}));
      expect(unknownService).toBeInstanceOf(ValidationError);
      expect(await catalog.getService('scaler')).toMatchObject({
        config: { REQUEST_TIMEOUT: 10 },
        version: 1,
      });
    });

    it('versions config writes and keeps the heartbeat across them', async () => {
      await catalog.putServiceConfig('snapshoter', { POLLING_FREQUENCY: 10 }, { expectedVersion: null });
      await catalog.recordHeartbeat('snapshoter', 1_700_000_000_000);
      const doc = await catalog.putServiceConfig(
        'snapshoter',
        { POLLING_FREQUENCY: 20 },
        { expectedVersion: 1 },
      );
      expect(doc).toEqual({
        name: 'snapshoter',
        config: { POLLING_FREQUENCY: 20 },
        heartbeat: 1_700_000_000_000,
        version: 2,
      });
      await expect(
        catalog.putServiceConfig('snapshoter', { POLLING_FREQUENCY: 30 }, { expectedVersion: 1 }),
      ).rejects.toBeInstanceOf(StaleStateError);
      expect(await catalog.loadServiceConfig('snapshoter')).toMatchObject({ POLLING_FREQUENCY: 20 });
    });

    it('refuses a heartbeat for a service that was never bootstrapped', async () => {
      await expect(catalog.recordHeartbeat('rebalancer', 1)).rejects.toBeInstanceOf(NotFoundError);
      expect(await catalog.getService('rebalancer')).toBeNull();
    });

    it('reports a stored config that no longer validates when loading it', async () => {
      await t.table.put({
        ...keys.service('rebalancer'),
        name: 'rebalancer',
        config: { DIFF_PERCENTAGE: 3 },
      });
      const err = await rejection(catalog.loadServiceConfig('rebalancer'));
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).field).toBe('DIFF_PERCENTAGE');
    });

    it('lists every stored service document', async () => {
      expect((await catalog.listServices()).map((s) => s.name)).toEqual([
        'guardian',
        'rebalancer',
        'scaler',
        'snapshoter',
      ]);
    });
  });
});
