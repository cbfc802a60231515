import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ActivityBuffer } from '../../../../adapters/dynamodb/activity.ts';
import { GuardianStore } from '../../../../adapters/dynamodb/guardian-store.ts';
import { ScalerStore } from '../../../../adapters/dynamodb/scaler-store.ts';
import { silentLogger } from '../../../../adapters/logger.ts';
import { missedOrDouble, runShardSim, seeded } from '../../../../bench/shard-sim.ts';
import { defaultConfig } from '../../../../core/contracts/service-config.ts';
import type { Application } from '../../../../core/contracts/structure.ts';
import { keys } from '../../../../core/contracts/table-layout.ts';
import { DEFAULT_RULES } from '../../../../core/policy/default-rules.ts';
import { accountingIssues } from '../../../../core/policy/planner/capacity.ts';
import { shardOf } from '../../../../core/policy/shards.ts';
import { ScalerSink } from '../../../../functions/scaler/scaler-sink.ts';
import { aContainer, unadmitted } from '../../../support/containers.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS, uniqueName } from '../../../support/env.ts';
import { FakeOrderSender } from '../../../support/fake-scaler-state.ts';
import { putGuardianConfig, putRules, sameUsage } from '../../../support/guardian-fixtures.ts';
import { ManualClock } from '../../../support/ops-fixtures.ts';
import { aHost, spec } from '../../../support/planner-fixtures.ts';
import { seedHost } from '../../../support/scaler-seed.ts';

const W = 10_000;
const T0 = 1_800_000_000_000;
const SHARDS = 3;

describe.each(DYNAMO_FLAVOURS)('applications spanning shards on %s', (flavour) => {
  let t: TestTable;
  beforeEach(async () => {
    t = await createTestTable(flavour);
  });
  afterEach(async () => {
    await t.drop();
  });

  it('each application is decided once per window by its owner shard; racing shards never over-commit a host', async () => {
    await putGuardianConfig(t.table, {
      WINDOW_TIMELAPSE: 10,
      WINDOW_DELAY: 0,
      EVENT_TIMEOUT: 120,
      STRUCTURE_GUARDED: 'application',
      GUARDABLE_RESOURCES: ['cpu'],
      SHARDS_MAX: SHARDS,
    });
    await putRules(t.table, DEFAULT_RULES);
    const scaler = new ScalerStore(t.table);
    // 9 hosts of 800 cpu shares; 6 applications of 6 containers, each on 6 different hosts
    const prefix = uniqueName('a');
    const hosts = Array.from({ length: 9 }, (_, h) => `${prefix}-h${h}`);
    const apps = Array.from({ length: 6 }, (_, a) => `${prefix}-app${a}`);
    const byHost = new Map(hosts.map((h) => [h, [] as ReturnType<typeof aContainer>[]]));
    for (const [a, app] of apps.entries()) {
      const members: string[] = [];
      for (let k = 0; k < 6; k++) {
        const host = hosts[(a + k * 2) % hosts.length] as string;
        const name = `${app}-c${k}`;
        members.push(name);
        byHost.get(host)?.push(
          aContainer(name, host, {
            resources: { cpu: spec(150, 50, 400) },
            ...unadmitted(),
            application: app,
            guard: false,
          }),
        );
      }
      const application: Application = {
        name: app,
        user: null,
        guard: true,
        state: 'running',
        containers: members,
        resources: { cpu: { max: 6 * 400, min: 300, current: 0, guard: true, weight: 1 } },
        version: 1,
      };
      await t.table.put({ ...keys.application(app), ...application });
    }
    for (const [h, cs] of byHost)
      await seedHost(scaler, aHost({ name: h, queueUrl: `https://sqs.local/${h}` }), cs, T0 - 60_000);
    // the applications span shards: some member of each lives on a host another shard owns
    for (const app of apps) {
      const owners = new Set(
        [...byHost]
          .filter(([, cs]) => cs.some((c) => c.application === app))
          .map(([h]) => shardOf(h, SHARDS)),
      );
      expect(owners.size).toBeGreaterThan(1);
    }
    const state = new GuardianStore(t.table);
    await state.writeShards({ current: { gen: 1, shards: SHARDS, from: T0 }, previous: null, version: 1 }, 0);
    const orders = new FakeOrderSender();
    const sink = new ScalerSink({
      state: scaler,
      activity: new ActivityBuffer(t.table, 0),
      orders,
      loadConfig: async () => defaultConfig('scaler'),
      log: silentLogger,
    });
    const sim = await runShardSim({
      clock: new ManualClock(T0),
      // every member at its allocation: the applications keep asking for more
      tickDeps: { state, metrics: sameUsage({ cpu: 150 }), sink, logger: silentLogger },
      logger: silentLogger,
      endAt: T0 + 150_000,
      processes: 4,
      duplicateRate: 0.3,
      watchdogs: 0,
      watchdogEveryMs: 60_000,
      random: seeded(3),
      start: Array.from({ length: SHARDS }, (_, s) => ({ chain: `c${s}`, at: T0, gen: 1, shard: s })),
    });
    const all = new Set(apps);
    expect(missedOrDouble(sim.decisions, () => all, T0, T0 + 150_000, W)).toEqual({
      missed: 0,
      double: 0,
      unexpected: 0,
      examples: [],
    });
    // applications were scaled up by their owner shards, on hosts other shards own too
    expect(orders.sent.length).toBeGreaterThan(10);
    const crossShard = orders.sent.filter((o) => {
      const app = o.order.container.slice(0, o.order.container.lastIndexOf('-c'));
      return shardOf(o.queueUrl.split('/').pop() as string, SHARDS) !== shardOf(app, SHARDS);
    });
    expect(crossShard.length).toBeGreaterThan(0);
    for (const h of hosts) {
      const stored = await scaler.getHost(h);
      expect(stored === null ? ['missing'] : accountingIssues(stored)).toEqual([]);
    }
  }, 180_000);
});
