import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { GuardianStore } from '../../../../adapters/dynamodb/guardian-store.ts';
import { silentLogger } from '../../../../adapters/logger.ts';
import { missedOrDouble, runShardSim, seeded } from '../../../../bench/shard-sim.ts';
import type { Container } from '../../../../core/contracts/structure.ts';
import { keys } from '../../../../core/contracts/table-layout.ts';
import { DEFAULT_RULES } from '../../../../core/policy/default-rules.ts';
import { shardOf } from '../../../../core/policy/shards.ts';
import { RecordingRequestSink } from '../../../../functions/guardian/recording-request-sink.ts';
import { type Finding, sanitySweep } from '../../../../functions/ops/sanity-sweep.ts';
import { aContainer } from '../../../support/containers.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS, uniqueName } from '../../../support/env.ts';
import {
  aHost,
  putGuardianConfig,
  putHost,
  putRules,
  sameUsage,
} from '../../../support/guardian-fixtures.ts';
import { ManualClock } from '../../../support/ops-fixtures.ts';

const W = 10_000;
const T0 = 1_800_000_000_000; // a multiple of a minute

type Decisions = Map<number, Map<string, number>>;
/** The decisions of the containers `keep` says yes to. */
const decisionsOf = (decisions: Decisions, keep: (name: string) => boolean): Decisions =>
  new Map([...decisions].map(([at, w]) => [at, new Map([...w].filter(([name]) => keep(name)))]));

/** `hosts` hosts of `per` containers each; returns the container names by host. */
async function seedFleet(t: TestTable, prefix: string, hosts: number, per: number) {
  const fleet = new Map<string, Container[]>();
  for (let h = 0; h < hosts; h++) {
    const host = `${prefix}-h${h}`;
    const containers = Array.from({ length: per }, (_, c) => aContainer(`${prefix}-h${h}-c${c}`, host));
    fleet.set(host, containers);
    await putHost(t.table, aHost(host, containers));
  }
  return fleet;
}

describe.each(DYNAMO_FLAVOURS)('the sharded control tick on %s', (flavour) => {
  let t: TestTable;
  beforeEach(async () => {
    t = await createTestTable(flavour);
  });
  afterEach(async () => {
    await t.drop();
  });

  const tickDeps = () => ({
    state: new GuardianStore(t.table),
    metrics: sameUsage({ cpu: 100 }),
    sink: new RecordingRequestSink(silentLogger, 100_000),
    logger: silentLogger,
    fullReadEveryMs: 30_000,
  });

  it('decides every container exactly once per window while shards race and N grows 1 → 3 → 4', async () => {
    // 24 hosts × 10 = 240 containers at 100 a shard: 3 shards; 8 more per host on 10 hosts: 320 → 4
    const sharding = { WINDOW_TIMELAPSE: 10, WINDOW_DELAY: 0, SHARDS_MAX: 4, SHARD_CONTAINERS: 100 };
    // An unsharded fleet whose chain runs turns sharding on at T0+30 s
    await putGuardianConfig(t.table, { ...sharding, SHARDS_MAX: 1 });
    const shardingOn = async () => putGuardianConfig(t.table, sharding);
    await putRules(t.table, DEFAULT_RULES);
    const prefix = uniqueName('f');
    const fleet = await seedFleet(t, prefix, 24, 10);
    const grownAt = T0 + 105_000;
    // A host added with the growth: ticked within a full-read period (30 s here) of its creation
    const newHost = `${prefix}-new`;
    const newContainers = Array.from({ length: 5 }, (_, c) => aContainer(`${newHost}-c${c}`, newHost));
    const onNewHost = new Set(newContainers.map((c) => c.name));
    const grow = async () => {
      for (const [host, containers] of [...fleet].slice(0, 10)) {
        const more = Array.from({ length: 8 }, (_, c) => aContainer(`${host}-x${c}`, host));
        containers.push(...more);
        await putHost(t.table, aHost(host, containers));
      }
      await putHost(t.table, aHost(newHost, newContainers));
    };
    const before = new Set([...fleet.values()].flat().map((c) => c.name));
    const clock = new ManualClock(T0 + 3_000);
    const deps = tickDeps();
    let listings = 0;
    const list = deps.state.listHosts.bind(deps.state);
    deps.state.listHosts = async () => {
      listings += 1;
      return list();
    };
    const sim = await runShardSim({
      clock,
      tickDeps: deps,
      logger: silentLogger,
      endAt: T0 + 240_000,
      processes: 6,
      duplicateRate: 0.3,
      watchdogs: 2,
      watchdogEveryMs: 60_000,
      random: seeded(7),
      events: [
        { at: T0 + 30_000, run: shardingOn },
        { at: grownAt, run: grow },
      ],
    });
    const after = new Set([...fleet.values()].flat().map((c) => c.name));
    // the generations recorded: 1 shard, then 3 (from T0+90 s: the watchdog of T0+63 s counted the
    // fleet), then 4 (from T0+150 s)
    const record = await new GuardianStore(t.table).readShards();
    expect(record.current).toEqual({ gen: 2, shards: 4, from: T0 + 150_000 });
    expect(record.previous).toEqual({ gen: 1, shards: 3, from: T0 + 90_000 });
    const gens = new Set(sim.ticks.map((k) => `${k.gen}/${k.shard}`));
    expect([...gens].sort()).toEqual(['0/0', '1/0', '1/1', '1/2', '2/0', '2/1', '2/2', '2/3']);
    // racing: duplicates were delivered and dropped by the shards' leases
    expect(
      sim.outcomes.filter((o) => !o.ran && o.reason === 'duplicate-or-other-chain').length,
    ).toBeGreaterThan(5);
    const check = missedOrDouble(
      decisionsOf(sim.decisions, (name) => !onNewHost.has(name)),
      (at) => (at < grownAt ? before : after),
      T0 + 10_000,
      T0 + 240_000,
      W,
    );
    expect(check).toEqual({ missed: 0, double: 0, unexpected: 0, examples: [] });
    // The new host's containers: never decided twice, and every window from a period after it came
    const newHostDecisions = decisionsOf(sim.decisions, (name) => onNewHost.has(name));
    const fromAdded = missedOrDouble(newHostDecisions, () => onNewHost, grownAt + 35_000, T0 + 240_000, W);
    expect(fromAdded).toEqual({ missed: 0, double: 0, unexpected: 0, examples: [] });
    const beforeAdded = missedOrDouble(newHostDecisions, () => new Set(), T0, grownAt, W);
    expect(beforeAdded.unexpected).toBe(0);
    for (const w of newHostDecisions.values()) for (const n of w.values()) expect(n).toBe(1);
    // Each environment lists the hosts at most once a full-read period (30 s): ≤ 6 × 8, and the
    // watchdogs' count of the fleet at sharding on; without that, every tick that did not resume lists
    const notResumed = sim.ticks.filter((k) => !k.resumed).length;
    expect(listings).toBeLessThanOrEqual(6 * 8 + 2);
    expect(listings).toBeLessThan(notResumed);
    // The live events crossed environments and generations (the carry): every container of the
    // first fleet was asked to scale down (six low windows in a row) although its shard's ticks ran
    // in six environments at random, and its hosts changed shard twice.
    const asked = new Set(deps.sink.recorded.map((r) => r.structure));
    expect([...before].filter((c) => !asked.has(c))).toEqual([]);
    // a shard tick of generation 2 read only its hosts' containers
    const tick = sim.ticks.find((k) => k.gen === 2 && k.shard === 1);
    const own = [...fleet, [newHost, newContainers] as const]
      .filter(([h]) => shardOf(h, 4) === 1)
      .reduce((n, [, cs]) => n + cs.length, 0);
    expect(tick?.structures).toBe(own);
  }, 180_000);

  it('shrinks 3 → 1 without a window decided twice or skipped; the old shards retire', async () => {
    await putGuardianConfig(t.table, {
      WINDOW_TIMELAPSE: 10,
      WINDOW_DELAY: 0,
      SHARDS_MAX: 3,
      SHARD_CONTAINERS: 100,
    });
    const prefix = uniqueName('s');
    const fleet = await seedFleet(t, prefix, 12, 20); // 240: 3 shards
    const all = new Set([...fleet.values()].flat().map((c) => c.name));
    const clock = new ManualClock(T0 + 3_000);
    const shrink = async () =>
      putGuardianConfig(t.table, { WINDOW_TIMELAPSE: 10, WINDOW_DELAY: 0, SHARDS_MAX: 1 });
    const sim = await runShardSim({
      clock,
      tickDeps: tickDeps(),
      logger: silentLogger,
      endAt: T0 + 200_000,
      processes: 4,
      duplicateRate: 0.2,
      watchdogs: 2,
      watchdogEveryMs: 60_000,
      random: seeded(11),
      events: [{ at: T0 + 110_000, run: shrink }],
    });
    const record = await new GuardianStore(t.table).readShards();
    expect(record.current.shards).toBe(1);
    expect(record.current.gen).toBe(2);
    // the first watchdog run (T0+3 s) counted 240 containers: 3 shards from T0+30 s
    expect(record.previous).toEqual({ gen: 1, shards: 3, from: T0 + 30_000 });
    expect(sim.outcomes.some((o) => !o.ran && o.reason === 'retired')).toBe(true);
    const check = missedOrDouble(sim.decisions, () => all, T0 + 30_000, T0 + 200_000, W);
    expect(check).toEqual({ missed: 0, double: 0, unexpected: 0, examples: [] });
    // the unsharded lease is generation 0's; generation 2's single shard has its own
    expect(await t.table.get(keys.lease('control-tick#2#0'))).toMatchObject({ lastAt: T0 + 200_000 });
  }, 180_000);

  it('sizes a fleet with no shard record at the first watchdog run, without a tick of the whole fleet', async () => {
    await putGuardianConfig(t.table, {
      WINDOW_TIMELAPSE: 10,
      WINDOW_DELAY: 0,
      SHARDS_MAX: 4,
      SHARD_CONTAINERS: 100,
    });
    // 12 hosts × 30 = 360 containers, 10 a host not guarded: 240 guarded at 100 a shard = 3 shards
    // (counting the unguarded ones too would give 4)
    const prefix = uniqueName('b');
    const guarded = new Set<string>();
    for (let h = 0; h < 12; h++) {
      const host = `${prefix}-h${h}`;
      const containers = Array.from({ length: 30 }, (_, c) =>
        aContainer(`${host}-c${c}`, host, { guard: c >= 10 }),
      );
      for (const c of containers) if (c.guard) guarded.add(c.name);
      await putHost(t.table, aHost(host, containers));
    }
    const clock = new ManualClock(T0 + 3_000);
    const sim = await runShardSim({
      clock,
      tickDeps: tickDeps(),
      logger: silentLogger,
      endAt: T0 + 130_000,
      processes: 4,
      duplicateRate: 0.3,
      watchdogs: 2,
      watchdogEveryMs: 60_000,
      random: seeded(3),
    });
    // one of the two racing watchdogs of T0+3 s recorded generation 1: 3 shards from the first
    // window 23 s ahead (two windows, the early start of a tick and a second: T0+26 s → T0+30 s)
    const [first, second] = sim.watchdogRuns;
    expect([first?.switched, second?.switched].sort()).toEqual([false, true]);
    for (const run of [first, second])
      expect(run?.record).toEqual({
        current: { gen: 1, shards: 3, from: T0 + 30_000 },
        previous: { gen: 0, shards: 1, from: 0 },
        version: 1,
      });
    expect((await new GuardianStore(t.table).readShards()).current).toEqual({
      gen: 1,
      shards: 3,
      from: T0 + 30_000,
    });
    // no tick of generation 0 (the whole fleet in one tick); the three shards from T0+30 s
    expect([...new Set(sim.ticks.map((k) => `${k.gen}/${k.shard}`))].sort()).toEqual(['1/0', '1/1', '1/2']);
    expect(Math.min(...sim.ticks.map((k) => k.at))).toBe(T0 + 30_000);
    // then every guarded container decided exactly once a window, the unguarded ones never
    expect(missedOrDouble(sim.decisions, () => guarded, T0 + 30_000, T0 + 130_000, W)).toEqual({
      missed: 0,
      double: 0,
      unexpected: 0,
      examples: [],
    });
  }, 180_000);

  it('one shard failing does not stop the others; the sanity sweep reports it and the watchdog restarts it', async () => {
    await putGuardianConfig(t.table, {
      WINDOW_TIMELAPSE: 10,
      WINDOW_DELAY: 0,
      SHARDS_MAX: 3,
      SHARD_CONTAINERS: 100,
    });
    const prefix = uniqueName('k');
    const fleet = await seedFleet(t, prefix, 12, 20);
    const state = new GuardianStore(t.table);
    await state.writeShards(
      { current: { gen: 1, shards: 3, from: T0 + 10_000 }, previous: null, version: 1 },
      0,
    );
    const findings: Finding[] = [];
    const clock = new ManualClock(T0 + 3_000);
    const sweep = async () => {
      const out = await sanitySweep({
        table: t.table,
        clock,
        logger: silentLogger,
        checkRules: () => [],
        resend: async () => [],
      });
      findings.push(...out.findings.filter((f) => f.check === 'shard'));
    };
    const sim = await runShardSim({
      clock,
      tickDeps: tickDeps(),
      logger: silentLogger,
      endAt: T0 + 120_000,
      processes: 4,
      duplicateRate: 0.2,
      watchdogs: 2,
      watchdogEveryMs: 60_000,
      random: seeded(5),
      // shard 1's execution environment crashes at its tick of T0+20 s: its chain stops
      lose: (msg) => msg.shard === 1 && msg.at === T0 + 20_000,
      events: [{ at: T0 + 62_000, run: sweep }],
    });
    // the sweep saw shard 1's last tick (T0+10 s) 52 s old, and only shard 1
    expect(findings.map((f) => f.text)).toEqual([
      'control-tick shard 1 of generation 1: last tick 52 s ago (the watchdog restarts its chain)',
    ]);
    // the watchdog of T0+63 s restarted shard 1 at the next window (T0+70 s)
    expect(
      sim.watchdogRuns.flatMap((r) => r.restarted).filter((m) => m.shard === 1 && m.at === T0 + 70_000),
    ).not.toEqual([]);
    const shardOfContainer = new Map(
      [...fleet].flatMap(([h, cs]) => cs.map((c) => [c.name, shardOf(h, 3)] as const)),
    );
    const expected = (at: number) =>
      new Set(
        [...shardOfContainer]
          .filter(([, s]) => s !== 1 || at < T0 + 20_000 || at >= T0 + 70_000)
          .map(([name]) => name),
      );
    // shards 0 and 2 decided every window; shard 1 every window but those of its broken chain
    expect(missedOrDouble(sim.decisions, expected, T0 + 10_000, T0 + 120_000, W)).toEqual({
      missed: 0,
      double: 0,
      unexpected: 0,
      examples: [],
    });
  }, 180_000);
});
