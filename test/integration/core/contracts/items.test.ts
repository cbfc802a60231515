import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { hostStateFromItem, hostStateToItem } from '../../../../core/contracts/items.ts';
import { SCHEMA_VERSION } from '../../../../core/contracts/order.ts';
import { keys } from '../../../../core/contracts/table-layout.ts';
import { StaleStateError } from '../../../../core/errors.ts';
import { admitContainer } from '../../../../core/policy/planner/admission.ts';
import { aContainer, unadmitted } from '../../../support/containers.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS } from '../../../support/env.ts';
import { aHost, spec } from '../../../support/planner-fixtures.ts';

function hostNamed(name: string) {
  const out = admitContainer(
    aHost({ name }),
    aContainer(`${name}-a`, name, {
      resources: { cpu: spec(150, 50, 400), mem: spec(1024, 256, 4096) },
      ...unadmitted(),
    }),
    0,
  );
  if (!out.ok) throw new Error(out.reason);
  return { ...out.host, version: 1 };
}

describe.each(DYNAMO_FLAVOURS)('stored layout of the host state item on %s', (flavour) => {
  let t: TestTable;
  beforeAll(async () => {
    t = await createTestTable(flavour);
  });
  afterAll(async () => {
    await t.drop();
  });

  const raw = async (host: string) =>
    (
      await t.table.doc.send(
        new GetCommand({
          TableName: t.tableName,
          Key: { pk: `HOST#${host}`, sk: 'STATE' },
          ConsistentRead: true,
        }),
      )
    ).Item as Record<string, unknown>;

  it('stores key, version and one deflated JSON doc, and reads back the same host state', async () => {
    const host = hostNamed('l1');
    await t.table.putVersioned(hostStateToItem(host), null, 'host l1');
    const stored = await raw('l1');
    expect(Object.keys(stored).sort()).toEqual(['docz', 'gsi1pk', 'gsi1sk', 'pk', 'sk', 'version']);
    expect(stored.docz).toBeInstanceOf(Uint8Array);
    expect(stored.version).toBe(1);
    expect(hostStateFromItem((await t.table.get({ pk: 'HOST#l1', sk: 'STATE' })) ?? {})).toEqual({
      ...host,
      schemaVersion: SCHEMA_VERSION, // stamped on write
    });
    expect(await t.table.listKind('HOSTS')).toContain('l1');
  });

  it('conditions writes on the top-level version and hands back the stored host on a lost race', async () => {
    const host = hostNamed('l2');
    await t.table.putVersioned(hostStateToItem(host), null, 'host l2');
    await t.table.putVersioned(hostStateToItem({ ...host, version: 2, degraded: true }), 1, 'host l2');
    const err = await t.table
      .putVersioned(hostStateToItem({ ...host, version: 2 }), 1, 'host l2')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StaleStateError);
    const current = hostStateFromItem((err as StaleStateError<Record<string, unknown>>).current ?? {});
    expect(current).toMatchObject({ version: 2, degraded: true });
  });

  it('still reads a host item written in the older flat layout', async () => {
    const host = hostNamed('l3');
    await t.table.doc.send(
      new PutCommand({ TableName: t.tableName, Item: { ...keys.hostState('l3'), ...host } }),
    );
    const items = await t.table.queryPartition(keys.hostPartition('l3'));
    expect(items.map(hostStateFromItem)).toEqual([host]);
  });
});
