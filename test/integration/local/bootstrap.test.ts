import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createDynamoDocumentClient, createSqsClient } from '../../../adapters/aws.ts';
import { Catalog } from '../../../adapters/dynamodb/catalog.ts';
import { tableDefinition } from '../../../adapters/dynamodb/table.ts';
import { TableClient } from '../../../adapters/dynamodb/table-client.ts';
import { hostQueueUrl } from '../../../adapters/sqs/order-queues.ts';
import { defaultConfig, SERVICE_CONFIGS } from '../../../core/contracts/service-config.ts';
import { keys } from '../../../core/contracts/table-layout.ts';
import { ValidationError } from '../../../core/errors.ts';
import { DEFAULT_RULES } from '../../../core/policy/default-rules.ts';
import { bootstrap, ensureTimeToLive } from '../../../local/bootstrap.ts';
import { DYNAMO_FLAVOURS, dynamoEndpoint, sqsEndpoint, uniqueName } from '../../support/env.ts';

const SERVICE_COUNT = Object.keys(SERVICE_CONFIGS).length;

describe.each(DYNAMO_FLAVOURS)('bootstrap on %s', (flavour) => {
  const dynamo = createDynamoDocumentClient({ endpoint: dynamoEndpoint(flavour), region: 'us-east-1' });
  const tables: string[] = [];
  let tableName: string;

  const freshName = () => {
    tableName = uniqueName('sc-boot');
    tables.push(tableName);
    return tableName;
  };
  const catalog = () => new Catalog(new TableClient(dynamo, tableName));
  const everything = async () => {
    const out = await dynamo.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
    return (out.Items ?? []).sort((a, b) => `${a.pk}/${a.sk}`.localeCompare(`${b.pk}/${b.sk}`));
  };

  beforeAll(() => {
    freshName();
  });
  afterEach(() => {
    freshName();
  });
  afterAll(async () => {
    for (const name of tables) await dynamo.send(new DeleteTableCommand({ TableName: name })).catch(() => 0);
    dynamo.destroy();
  });

  it('creates an active table and loads every default rule and service config at version 1', async () => {
    const report = await bootstrap({ dynamo }, { tableName });
    expect(report.tableCreated).toBe(true);
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toEqual(['gsi1']);
    const rules = await catalog().listRules();
    expect(rules).toHaveLength(DEFAULT_RULES.length);
    expect(rules.every((r) => r.version === 1)).toBe(true);
    const services = await catalog().listServices();
    expect(services.map((s) => s.name).sort()).toEqual(Object.keys(SERVICE_CONFIGS).sort());
    expect(await catalog().loadServiceConfig('guardian')).toEqual(defaultConfig('guardian'));
  });

  it('leaves the same state, versions included, when run twice', async () => {
    await bootstrap({ dynamo }, { tableName });
    const first = await everything();
    const again = await bootstrap({ dynamo }, { tableName });
    expect(await everything()).toEqual(first);
    expect(again).toMatchObject({ tableCreated: false, rulesWritten: [], servicesWritten: [] });
    expect(again.rulesKept).toHaveLength(DEFAULT_RULES.length);
    expect(again.servicesKept).toHaveLength(SERVICE_COUNT);
  });

  it(`enables the TTL on expiresAtS once, and finds it on when run again (${flavour})`, async () => {
    const first = await bootstrap({ dynamo }, { tableName });
    const again = await bootstrap({ dynamo }, { tableName });
    const { TimeToLiveDescription: ttl } = await dynamo.send(
      new DescribeTimeToLiveCommand({ TableName: tableName }),
    );
    if (flavour === 'dynalite') {
      // no UpdateTimeToLive in dynalite: said so, and the bootstrap goes on
      expect([first.timeToLive, again.timeToLive]).toEqual(['unsupported', 'unsupported']);
      expect(ttl?.TimeToLiveStatus).toBe('DISABLED');
    } else {
      expect([first.timeToLive, again.timeToLive]).toEqual(['enabled', 'already-enabled']);
      expect(ttl).toMatchObject({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAtS' });
    }
  });

  if (flavour === 'dynamodb-local')
    it('refuses a table whose TTL is on another attribute, naming the field', async () => {
      const name = freshName();
      await dynamo.send(new CreateTableCommand(tableDefinition(name)));
      await dynamo.send(
        new UpdateTimeToLiveCommand({
          TableName: name,
          TimeToLiveSpecification: { AttributeName: 'gone', Enabled: true },
        }),
      );
      const err = await ensureTimeToLive(dynamo, name).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).field).toBe('TimeToLiveSpecification.AttributeName');
    });

  it('never overwrites a rule or config an operator changed', async () => {
    await bootstrap({ dynamo }, { tableName });
    const cat = catalog();
    const cpuUp = DEFAULT_RULES.find((r) => r.name === 'CpuRescaleUp');
    await cat.putRule({ ...cpuUp, amount: 150 });
    await cat.putServiceConfig('guardian', { WINDOW_TIMELAPSE: 15 });
    const before = await everything();
    await bootstrap({ dynamo }, { tableName });
    expect(await everything()).toEqual(before);
    expect((await cat.getRule('CpuRescaleUp'))?.rule).toMatchObject({ amount: 150 });
    expect(await cat.loadServiceConfig('guardian')).toMatchObject({ WINDOW_TIMELAPSE: 15, WINDOW_DELAY: 2 });
  });

  it('loads rules and configs from files, and a second run with the same files changes nothing', async () => {
    const memDown = DEFAULT_RULES.find((r) => r.name === 'MemRescaleDown');
    const custom = { ...DEFAULT_RULES[0], name: 'cpu_custom_upper', active: false };
    const rules = [{ ...memDown, events_to_remove: 4 }, custom];
    const configs = { scaler: { REQUEST_TIMEOUT: 12 }, rebalancer: { ACTIVE: true } };
    const first = await bootstrap({ dynamo }, { tableName, rules, configs });
    expect(first.rulesWritten).toEqual(expect.arrayContaining(['MemRescaleDown', 'cpu_custom_upper']));
    expect(first.rulesWritten).toHaveLength(DEFAULT_RULES.length + 1);
    const cat = catalog();
    expect(await cat.getRule('MemRescaleDown')).toMatchObject({ rule: { events_to_remove: 4 }, version: 1 });
    expect(await cat.loadServiceConfig('scaler')).toMatchObject({ REQUEST_TIMEOUT: 12, ORDER_TTL: 120 });
    const state = await everything();
    const second = await bootstrap({ dynamo }, { tableName, rules, configs });
    expect(second.rulesWritten).toEqual([]);
    expect(second.servicesWritten).toEqual([]);
    expect(await everything()).toEqual(state);
    const third = await bootstrap({ dynamo }, { tableName, configs: { scaler: { REQUEST_TIMEOUT: 20 } } });
    expect(third.servicesWritten).toEqual(['scaler']);
    expect(await cat.getService('scaler')).toMatchObject({ config: { REQUEST_TIMEOUT: 20 }, version: 2 });
  });

  it('rejects a malformed rules file naming the field, before creating or writing anything', async () => {
    const bad = [DEFAULT_RULES[2], { ...DEFAULT_RULES[3], events_to_remove: -1 }];
    const err = await bootstrap({ dynamo }, { tableName, rules: bad }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe('[1].events_to_remove');
    await expect(dynamo.send(new DescribeTableCommand({ TableName: tableName }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });

  it('rejects a malformed config file naming the service and setting, writing nothing', async () => {
    await bootstrap({ dynamo }, { tableName });
    const before = await everything();
    const err = await bootstrap(
      { dynamo },
      { tableName, configs: { guardian: { WINDOW_TIMELAPSE: 10 }, sanity: { RESEND_AFTR: 5 } } },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).message).toBe('invalid config sanity.RESEND_AFTR: unknown setting');
    const unknownService = await bootstrap({ dynamo }, { tableName, configs: { planner: {} } }).catch(
      (e: unknown) => e,
    );
    expect(unknownService).toBeInstanceOf(ValidationError);
    expect((unknownService as ValidationError).field).toBe('planner');
    expect(await everything()).toEqual(before);
  });

  it("refuses a guardian config under which an active rule could never fire, naming the setting and the rule, writing nothing (the API's check)", async () => {
    await bootstrap({ dynamo }, { tableName });
    const before = await everything();
    // 60 s / 10 s = 6 live events; MemRescaleDown needs 8
    const configs = { guardian: { WINDOW_TIMELAPSE: 10 }, rebalancer: { ACTIVE: true } };
    const err = await bootstrap({ dynamo }, { tableName, configs }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe('guardian.WINDOW_TIMELAPSE');
    expect((err as ValidationError).message).toContain('MemRescaleDown');
    expect(await everything()).toEqual(before);
    // once the operator has deactivated that rule, the same file is taken
    const memDown = DEFAULT_RULES.find((r) => r.name === 'MemRescaleDown');
    await catalog().putRule({ ...memDown, active: false });
    const taken = await bootstrap({ dynamo }, { tableName, configs });
    expect(taken.servicesWritten).toEqual(['guardian', 'rebalancer']);
  });

  it('refuses a rules file entry the Guardian would refuse (it can never fire), naming it, writing no item', async () => {
    const slow = {
      name: 'cpu_slow_down',
      resource: 'cpu',
      active: true,
      generates: 'requests',
      rule: { '>=': [{ var: 'events.scale.down' }, 20] }, // 20 events; 60 s / 5 s keeps 12
      events_to_remove: 20,
      rescale_type: 'down',
      rescale_policy: 'fit_to_usage',
      amount: 0,
    };
    const err = await bootstrap({ dynamo }, { tableName, rules: [DEFAULT_RULES[0], slow] }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe('[1].rule');
    expect((err as ValidationError).message).toContain('can never fire');
    expect(await everything().catch(() => [])).toEqual([]);
  });

  it('re-creates the order queues of hosts already registered', async () => {
    const sqs = createSqsClient({ endpoint: sqsEndpoint(), region: 'us-east-1' });
    try {
      await bootstrap({ dynamo }, { tableName });
      const host = uniqueName('boot-host');
      await new TableClient(dynamo, tableName).put({ ...keys.hostState(host), version: 1 });
      const prefix = `${uniqueName('q')}-`;
      expect(await hostQueueUrl(sqs, host, prefix)).toBeNull();
      const report = await bootstrap({ dynamo, sqs }, { tableName, queuePrefix: prefix });
      expect(report.hostQueues).toEqual([host]);
      expect(await hostQueueUrl(sqs, host, prefix)).not.toBeNull();
    } finally {
      sqs.destroy();
    }
  });
});
