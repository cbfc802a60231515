import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ScalerStore } from '../../../../adapters/dynamodb/scaler-store.ts';
import type { HostState } from '../../../../core/contracts/host.ts';
import { SCHEMA_VERSION } from '../../../../core/contracts/order.ts';
import { keys } from '../../../../core/contracts/table-layout.ts';
import { StaleStateError } from '../../../../core/errors.ts';
import { aContainer, unadmitted } from '../../../support/containers.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS } from '../../../support/env.ts';
import { aHost, spec } from '../../../support/planner-fixtures.ts';
import { seedHost } from '../../../support/scaler-seed.ts';

describe.each(DYNAMO_FLAVOURS)('ScalerStore on %s', (flavour) => {
  let t: TestTable;
  let store: ScalerStore;
  beforeAll(async () => {
    t = await createTestTable(flavour);
    store = new ScalerStore(t.table);
  });
  afterAll(async () => {
    await t.drop();
  });

  it('round-trips a host state and locates its containers', async () => {
    const h = await seedHost(
      store,
      aHost({ name: 'rt' }),
      [aContainer('rt-a', 'rt', { resources: { cpu: spec(150, 100, 400) }, ...unadmitted() })],
      1000,
    );
    expect(await store.getHost('rt')).toEqual({ ...h, schemaVersion: SCHEMA_VERSION }); // stamped on write
    expect(await store.locateContainer('rt-a')).toBe('rt');
    expect(await store.locateContainer('nobody')).toBeNull();
    expect(await store.listHosts()).toContain('rt');
  });

  it('refuses a commit on a stale version and hands back the host as stored', async () => {
    const h = await seedHost(store, aHost({ name: 'st' }), [], 1000);
    await store.commitHost({ ...h, version: h.version + 1 }, h.version);
    const err = await store
      .commitHost({ ...h, version: h.version + 1, degraded: true }, h.version)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StaleStateError);
    expect((err as StaleStateError<HostState>).current).toMatchObject({
      name: 'st',
      version: h.version + 1,
      degraded: false,
    });
  });

  it('reads the applied version of each container next to the host state', async () => {
    await seedHost(
      store,
      aHost({ name: 'ap' }),
      [aContainer('ap-a', 'ap', { resources: { cpu: spec(100, 100, 400) }, ...unadmitted() })],
      1000,
    );
    await t.table.put({
      ...keys.applied('ap', 'ap-a'),
      host: 'ap',
      container: 'ap-a',
      appliedVersion: 1,
      appliedAt: 2000,
      outcome: 'applied',
      limits: {
        cpuShares: 100,
        cpuset: '0',
        memMiB: null,
        diskReadMiBps: null,
        diskWriteMiBps: null,
        netMbps: null,
      },
      issues: [],
      via: 'order',
    });
    const out = await store.getHostWithApplied('ap');
    expect(out?.applied.get('ap-a')).toBe(1);
  });

  it('records activity in batches of 25', async () => {
    const lines = Array.from({ length: 60 }, (_, i) => ({
      seq: `s${i}`,
      activity: {
        structure: 'act',
        at: 5000 + i,
        kind: 'order' as const,
        resource: null,
        text: `line ${i}`,
        reasons: [],
        data: {},
      },
    }));
    await store.recordActivity(lines);
    const items = await t.table.queryPartition(keys.activityPartition('act'));
    expect(items).toHaveLength(60);
    // TTL: floor(5000 ms / 1000) = 5 s + 7 days × 86 400 s (the table client's default retention)
    expect(new Set(items.map((i) => i.expiresAtS))).toEqual(new Set([5 + 7 * 86_400]));
  });
});
