import {
  DeleteMessageCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { createSqsClient } from '../../../../adapters/aws.ts';
import { recentActivity } from '../../../../adapters/dynamodb/activity.ts';
import { Catalog } from '../../../../adapters/dynamodb/catalog.ts';
import { body } from '../../../../adapters/dynamodb/fleet.ts';
import { silentLogger } from '../../../../adapters/logger.ts';
import {
  deleteHostQueues,
  ensureHostQueues,
  visibleMessages,
} from '../../../../adapters/sqs/order-queues.ts';
import { HostState } from '../../../../core/contracts/host.ts';
import { deadLetterQueueUrl, parseOrderMessage } from '../../../../core/contracts/order-queue.ts';
import { keys } from '../../../../core/contracts/table-layout.ts';
import { DEFAULT_RULES } from '../../../../core/policy/default-rules.ts';
import { ruleFindings } from '../../../../core/policy/sanity-findings.ts';
import { resendWith } from '../../../../functions/ops/resend.ts';
import { FINDING_REPEAT_MS, type SanityDeps, sanitySweep } from '../../../../functions/ops/sanity-sweep.ts';
import { sqsOrderSender } from '../../../../functions/scaler/sqs-order-sender.ts';
import { aContainer } from '../../../support/containers.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS, sqsEndpoint, uniqueName } from '../../../support/env.ts';
import {
  aHostState,
  anAppliedReport,
  ManualClock,
  seedApplied,
  seedHeartbeat,
  seedHost,
  spec,
} from '../../../support/ops-fixtures.ts';

const T0 = 1_795_000_000_000;

describe.each(DYNAMO_FLAVOURS)('sanity sweep on %s', (flavour) => {
  let t: TestTable;
  let sqs: SQSClient;
  const prefix = `${uniqueName('t')}-`;
  const hosts = { dead: uniqueName('hdead'), live: uniqueName('hlive') };
  let liveQueueUrl = '';

  beforeAll(async () => {
    t = await createTestTable(flavour);
    sqs = createSqsClient({ endpoint: sqsEndpoint(), region: 'us-east-1' });
    liveQueueUrl = (await ensureHostQueues(sqs, hosts.live, { prefix })).queueUrl;
  });
  afterAll(async () => {
    await deleteHostQueues(sqs, hosts.live, prefix);
    sqs.destroy();
    own?.sqs.destroy();
    await t.drop();
  });

  // The sweep's own clients: its calls are recorded as the sanity function's (IAM test).
  let own: { table: TestTable['table']; sqs: SQSClient } | null = null;
  const deps = (clock: ManualClock): SanityDeps => {
    if (own === null) {
      const o = t.as('sanity', prefix);
      own = {
        table: o.table,
        sqs: createSqsClient({ endpoint: sqsEndpoint(), region: 'us-east-1', record: o.record }),
      };
    }
    return {
      table: own.table,
      clock,
      logger: silentLogger,
      checkRules: ruleFindings,
      resend: resendWith(sqsOrderSender(own.sqs)),
    };
  };

  const readHost = async (name: string) => {
    const { pk, sk } = keys.hostState(name);
    return HostState.parse(body((await t.table.get({ pk, sk })) ?? {}));
  };

  it('marks the host of a stopped agent degraded, repairs corrupted accounting, and re-sends a dropped order', async () => {
    const clock = new ManualClock(T0);
    // dead host: agent last seen 181 s ago (> HEARTBEAT_TIMEOUT 180 s); cpu.free corrupted to 350 (should be 400 − 100 = 300)
    const dead = aHostState(
      hosts.dead,
      [aContainer('c-dead', hosts.dead, { cpu: { current: 100 }, mem: { current: 1024 } })],
      { version: 7 },
    );
    dead.capacity.cpu.free = 350;
    await seedHost(t.table, dead);
    await seedHeartbeat(t.table, {
      host: hosts.dead,
      at: T0 - 181_000,
      agentVersion: '1',
      cgroupVersion: 'v1',
      containers: ['c-dead'],
    });
    // live host: fresh agent; c-lag desired v3 since 25 s (> RESEND_AFTER 20 s) but the agent applied only v2 (the v3 order was dropped)
    const lag = aContainer('c-lag', hosts.live, {
      desiredVersion: 3,
      desiredAt: T0 - 25_000,
      resources: { cpu: spec(150, 400, 50), mem: spec(2048, 4096, 256) },
    });
    const ok = aContainer('c-ok', hosts.live, {
      cpu: { current: 100 },
      mem: { current: 1024 },
      desiredVersion: 2,
      desiredAt: T0 - 100_000,
    });
    await seedHost(t.table, aHostState(hosts.live, [lag, ok], { queueUrl: liveQueueUrl }));
    await seedHeartbeat(t.table, {
      host: hosts.live,
      at: T0 - 2_000,
      agentVersion: '1',
      cgroupVersion: 'v1',
      containers: ['c-lag', 'c-ok'],
    });
    await seedApplied(t.table, anAppliedReport(hosts.live, 'c-lag', 2, T0 - 30_000));
    await seedApplied(t.table, anAppliedReport(hosts.live, 'c-ok', 2, T0 - 90_000));

    const result = await sanitySweep(deps(clock));

    expect(result.findings.map((f) => [f.check, f.structure, f.action]).sort()).toEqual(
      [
        ['accounting', hosts.dead, 'repaired'],
        ['agent', hosts.dead, 'marked-degraded'],
        ['lagging', 'c-lag', 'resent'],
      ].sort(),
    );
    const deadAfter = await readHost(hosts.dead);
    expect(deadAfter).toMatchObject({ degraded: true, version: 8 });
    expect(deadAfter.capacity.cpu.free).toBe(300);
    expect((await readHost(hosts.live)).version).toBe(1);

    const got = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: liveQueueUrl, WaitTimeSeconds: 2, MaxNumberOfMessages: 10 }),
    );
    expect(got.Messages).toHaveLength(1);
    const message = got.Messages?.[0];
    const order = parseOrderMessage(message?.Body);
    expect(order).toMatchObject({
      host: hosts.live,
      container: 'c-lag',
      desiredVersion: 3,
      limits: { cpuShares: 150, memMiB: 2048 },
      issuedAt: T0,
      expiresAt: T0 + 120_000,
    });
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: liveQueueUrl, ReceiptHandle: message?.ReceiptHandle }),
    );

    const findings = await recentActivity(t.table, hosts.dead, 50, T0);
    expect(findings.map((a) => a.kind)).toEqual(['finding', 'finding']);
    expect(findings.map((a) => a.text).join('\n')).toMatch(
      /cpu\.free is 350, but max 400 − allocated 100 = 300/,
    );
    expect((await recentActivity(t.table, 'c-lag', 50, T0))[0]?.text).toMatch(
      /desired v3, applied v2.*re-sent/,
    );
  });

  it('finds nothing more on a second sweep, and clears the mark once the agent is back', async () => {
    const clock = new ManualClock(T0 + 5_000);
    // the agent applied v3 from the re-sent order
    await seedApplied(t.table, anAppliedReport(hosts.live, 'c-lag', 3, T0 + 1_000));
    expect((await sanitySweep(deps(clock))).findings).toEqual([]);

    await seedHeartbeat(t.table, {
      host: hosts.dead,
      at: T0 + 4_000,
      agentVersion: '1',
      cgroupVersion: 'v1',
      containers: ['c-dead'],
    });
    const result = await sanitySweep(deps(clock));
    expect(result.findings.map((f) => [f.structure, f.action])).toEqual([[hosts.dead, 'cleared-degraded']]);
    expect(await readHost(hosts.dead)).toMatchObject({ degraded: false, version: 9 });
  });

  it('re-checks a host that changed under it instead of overwriting the newer version', async () => {
    const name = uniqueName('hrace');
    const state = aHostState(
      name,
      [aContainer('c-race', name, { cpu: { current: 100 }, mem: { current: 1024 } })],
      { version: 4 },
    );
    state.capacity.mem.free = 1;
    await seedHost(t.table, state);
    await seedHeartbeat(t.table, {
      host: name,
      at: T0,
      agentVersion: '1',
      cgroupVersion: 'v1',
      containers: ['c-race'],
    });
    const clock = new ManualClock(T0 + 1_000);
    // A planner commits version 5 (with a corrected mem.free but another corruption) between the sweep's read and write.
    const racing: SanityDeps = {
      ...deps(clock),
      table: new Proxy(t.table, {
        get(target, prop, receiver) {
          if (prop !== 'putVersioned') return Reflect.get(target, prop, receiver);
          return async (...args: Parameters<typeof target.putVersioned>) => {
            if (args[0].pk === keys.hostState(name).pk && args[1] === 4) {
              const newer = aHostState(
                name,
                [aContainer('c-race', name, { cpu: { current: 100 }, mem: { current: 1024 } })],
                { version: 5 },
              );
              newer.capacity.cpu.free = 0;
              await t.table.put({ ...keys.hostState(name), ...newer });
            }
            return target.putVersioned(...args);
          };
        },
      }),
    };
    const result = await sanitySweep(racing);
    const after = await readHost(name);
    // the repair was re-done on version 5: cpu.free 400 − 100 = 300, mem.free 8192 − 1024 = 7168
    expect(after.version).toBe(6);
    expect(after.capacity.cpu.free).toBe(300);
    expect(after.capacity.mem.free).toBe(7168);
    expect(result.findings.filter((f) => f.structure === name).map((f) => f.text)).toEqual([
      expect.stringMatching(/cpu\.free is 0/),
    ]);
  });

  it('takes a report as a sign of life: a busy agent that skipped its heartbeats is not marked', async () => {
    const name = uniqueName('hbusy');
    await seedHost(
      t.table,
      aHostState(name, [aContainer('c-busy', name, { cpu: { current: 100 }, mem: { current: 1024 } })]),
    );
    // heartbeat 300 s old (> HEARTBEAT_TIMEOUT 180 s), but a report landed 30 s ago
    await seedHeartbeat(t.table, {
      host: name,
      at: T0 - 300_000,
      agentVersion: '1',
      cgroupVersion: 'v1',
      containers: ['c-busy'],
    });
    await seedApplied(t.table, anAppliedReport(name, 'c-busy', 1, T0 - 30_000));
    const mine = async (at: number) =>
      (await sanitySweep(deps(new ManualClock(at)))).findings.filter((f) => f.structure === name);
    expect(await mine(T0)).toEqual([]);
    expect(await readHost(name)).toMatchObject({ degraded: false });
    // silent since that report for 181 s: marked
    const marked = await mine(T0 - 30_000 + 181_000);
    expect(marked.map((f) => [f.action, f.text])).toEqual([
      ['marked-degraded', expect.stringMatching(/last heartbeat or report 181 s ago/)],
    ]);
  });

  it('reports a registered topology that differs from what the agent found on the host', async () => {
    const name = uniqueName('htopo');
    await seedHost(t.table, aHostState(name, [])); // registered: 4 cpus on socket 0, 8192 MiB
    await seedHeartbeat(t.table, {
      host: name,
      at: T0 - 10_000,
      agentVersion: '1',
      cgroupVersion: 'v2',
      containers: [],
      topology: {
        cpus: ['0', '1'].map((id) => ({ id, socket: 0, core: Number(id) })),
        smtSiblings: [['0'], ['1']],
        memMiB: 4096,
        disks: [],
      },
    });
    const findings = (await sanitySweep(deps(new ManualClock(T0)))).findings.filter(
      (f) => f.structure === name,
    );
    expect(findings.map((f) => [f.check, f.action, f.text])).toEqual([
      [
        'topology',
        'reported',
        expect.stringMatching(/cpus registered 4, reported 2; registered only: 2@0\/2 3@0\/3/),
      ],
      ['topology', 'reported', expect.stringMatching(/memory registered 8192 MiB is above the 4096 MiB/)],
    ]);
  });

  it('counts the orders waiting on the hosts’ dead-letter queues, and names a queue it could not read', async () => {
    // Two orders the live host's agent dead-lettered; a ghost host whose queue was never created.
    const dlq = deadLetterQueueUrl(liveQueueUrl) as string;
    for (const id of ['dl-1', 'dl-2'])
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: dlq,
          MessageBody: '{}',
          MessageGroupId: 'c',
          MessageDeduplicationId: id,
        }),
      );
    const ghost = uniqueName('hghost');
    await seedHost(t.table, aHostState(ghost, [], { queueUrl: liveQueueUrl.replace(hosts.live, ghost) }));
    const logged: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => logged.push(line) });
    // the first sweep past a multiple of DEAD_LETTER_PERIOD (default 300 s) counts
    const due = Math.ceil(T0 / 300_000) * 300_000;
    const d = deps(new ManualClock(due));
    const own = createSqsClient({
      endpoint: sqsEndpoint(),
      region: 'us-east-1',
      record: t.as('sanity', prefix).record,
    });
    try {
      const result = await sanitySweep({ ...d, logger, deadLetters: (url) => visibleMessages(own, url) });
      expect(result.deadLettered).toBe(2);
      const lines = logged.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines).toContainEqual(expect.objectContaining({ deadLettered: { [hosts.live]: 2 } }));
      expect(lines).toContainEqual(
        expect.objectContaining({ msg: 'dead-letter queue not read', host: ghost }),
      );
      // Without a counter the sweep does not count (and says so with null, not 0)…
      expect((await sanitySweep(d)).deadLettered).toBeNull();
      // …nor does the next sweep, a minute later, in the same period.
      const later = {
        ...deps(new ManualClock(due + 60_000)),
        deadLetters: (url: string) => visibleMessages(own, url),
      };
      expect((await sanitySweep(later)).deadLettered).toBeNull();
    } finally {
      own.destroy();
      await sqs.send(new PurgeQueueCommand({ QueueUrl: dlq }));
    }
  });
});

describe.each(DYNAMO_FLAVOURS)('sanity sweep over catalog rules on %s', (flavour) => {
  let t: TestTable;
  beforeAll(async () => {
    t = await createTestTable(flavour);
  });
  afterAll(async () => {
    await t.drop();
  });

  it('checks the rules the catalog stores and flags one that can never fire', async () => {
    const catalog = new Catalog(t.table);
    for (const r of DEFAULT_RULES) await catalog.putRule(r);
    // 8 events × 10 s = 80 s > EVENT_TIMEOUT 60 s
    await t.table.put({ ...keys.service('guardian'), name: 'guardian', config: { WINDOW_TIMELAPSE: 10 } });
    const result = await sanitySweep({
      table: t.table,
      clock: new ManualClock(T0),
      logger: silentLogger,
      checkRules: ruleFindings,
      resend: async () => [],
    });
    expect(result.findings.filter((f) => f.check === 'schema')).toEqual([]);
    const flagged = result.findings.filter((f) => f.check === 'rule').map((f) => f.structure);
    expect(flagged).toContain('MemRescaleDown');
    expect(flagged).not.toContain('CpuRescaleUp');
    expect((await recentActivity(t.table, 'MemRescaleDown', 50, T0))[0]).toMatchObject({ kind: 'finding' });
  });

  it('records an unchanged finding once an hour, not every round (it is logged every round)', async () => {
    const recorded = new Map<string, number>();
    const sweep = (at: number) =>
      sanitySweep({
        table: t.table,
        clock: new ManualClock(at),
        logger: silentLogger,
        checkRules: ruleFindings,
        resend: async () => [],
        recorded,
      });
    const lines = async (at: number) =>
      (await recentActivity(t.table, 'MemRescaleDown', 50, at)).filter(
        (a) => a.kind === 'finding' && a.at > T0,
      );
    // The rule stored by the test above still can never fire: found every round.
    for (const at of [T0 + 60_000, T0 + 120_000, T0 + 180_000])
      expect((await sweep(at)).findings.map((f) => f.structure)).toContain('MemRescaleDown');
    expect((await lines(T0 + 180_000)).map((a) => a.at)).toEqual([T0 + 60_000]);
    // An hour after it was recorded: once more.
    await sweep(T0 + 60_000 + FINDING_REPEAT_MS);
    expect((await lines(T0 + 60_000 + FINDING_REPEAT_MS)).map((a) => a.at).sort()).toEqual([
      T0 + 60_000,
      T0 + 60_000 + FINDING_REPEAT_MS,
    ]);
  });
});
