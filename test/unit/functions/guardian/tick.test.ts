import { describe, expect, it } from '@jest/globals';
import { silentLogger } from '../../../../adapters/logger.ts';
import { defaultConfig, type GuardianConfig } from '../../../../core/contracts/service-config.ts';
import type { Application } from '../../../../core/contracts/structure.ts';
import { DEFAULT_RULES } from '../../../../core/policy/default-rules.ts';
import type { MetricsSource, UsageQuery, UsageResult } from '../../../../core/ports/metrics-source.ts';
import type { SubmitHints } from '../../../../core/ports/request-sink.ts';
import { RecordingRequestSink } from '../../../../functions/guardian/recording-request-sink.ts';
import {
  checkpoint,
  type HostListing,
  runTick,
  type TickMemory,
} from '../../../../functions/guardian/tick.ts';
import { aContainer } from '../../../support/containers.ts';
import { FakeGuardianState } from '../../../support/fake-guardian-state.ts';
import { aHost, sameUsage } from '../../../support/guardian-fixtures.ts';

const T0 = 1_700_000_000_000; // a window boundary (5 s)
const WINDOW_MS = 5_000;

/** Usage per container; absent: no data. Records the queries. */
function usageOf(byContainer: Record<string, Partial<Record<'cpu' | 'mem', number | null>>>) {
  const queries: UsageQuery[] = [];
  const metrics: MetricsSource = {
    async usage(q): Promise<UsageResult> {
      queries.push(q);
      const usage = new Map();
      for (const s of q.structures) if (byContainer[s] !== undefined) usage.set(s, { ...byContainer[s] });
      return { usage, queries: 1, rejected: [] };
    },
  };
  return { metrics, queries };
}

function setup(config: Partial<GuardianConfig> = {}) {
  const state = new FakeGuardianState();
  state.config = { ...defaultConfig('guardian'), GUARDABLE_RESOURCES: ['cpu'], ...config };
  state.rules = [...DEFAULT_RULES];
  const sink = new RecordingRequestSink(silentLogger);
  return { state, sink };
}

describe('runTick on in-memory ports', () => {
  it('requests CpuRescaleUp for a container above upper, with the guard state written before the request', async () => {
    const { state, sink } = setup();
    // cpu max 400, current 300: margin 10 % of 400 = 40, upper 300 − 40 = 260, lower 260 − 40 = 220
    state.putHost(aHost('h1', [aContainer('hot', 'h1'), aContainer('calm', 'h1')]));
    const { metrics } = usageOf({ hot: { cpu: 290 }, calm: { cpu: 240 } });
    let storedAtSubmit: unknown;
    let hints: SubmitHints | undefined;
    const submit = sink.submit.bind(sink);
    sink.submit = async (requests, now, h) => {
      storedAtSubmit = state.guard({ host: 'h1', structure: 'hot' });
      hints = h;
      return submit(requests, now);
    };

    const report = await runTick({ state, metrics, sink, logger: silentLogger }, T0);

    expect(report).toMatchObject({ structures: 2, decisions: 2, submitted: 1, fullRead: true });
    expect(sink.recorded.map((r) => [r.structure, r.resource, r.amount])).toEqual([
      ['hot', 'cpu', 100], // shaped up past max, trimmed to it: 400 − 300 = 100
    ]);
    // where the tick read the requested container and that host's state: the planner need not read them
    expect(hints?.hostOf).toEqual(new Map([['hot', 'h1']]));
    expect([...(hints?.hosts?.keys() ?? [])]).toEqual(['h1']);
    expect(hints?.hosts?.get('h1')?.containers.hot).toBeDefined();
    expect(storedAtSubmit).toMatchObject({
      structure: 'hot',
      version: 1,
      limits: { cpu: { upper: 260, lower: 220 } },
    });
    expect(state.guard({ host: 'h1', structure: 'calm' })).toMatchObject({ version: 1, events: [] });
    // one event line (the run starts) and one request line, packed under the host
    expect(state.activity.map((l) => [l.activity.kind, l.host])).toEqual([
      ['event', 'h1'],
      ['request', 'h1'],
    ]);
  });

  it('decides nothing for an unguarded container and counts no data as a skip', async () => {
    const { state, sink } = setup();
    state.putHost(aHost('h1', [aContainer('off', 'h1', { guard: false }), aContainer('quiet', 'h1')]));
    const { metrics, queries } = usageOf({});
    const report = await runTick({ state, metrics, sink, logger: silentLogger }, T0);
    expect(queries.map((q) => q.structures)).toEqual([['quiet']]);
    expect(report).toMatchObject({
      structures: 1,
      decisions: 1,
      skips: { no_data: 1, bad_usage: 0, bad_state: 0 },
    });
    expect(state.guard({ host: 'h1', structure: 'off' })).toBeUndefined();
  });

  it('skips a container whose stored guard state its schema refuses, and reports the problem', async () => {
    const { state, sink } = setup();
    state.putHost(aHost('h1', [aContainer('broken', 'h1'), aContainer('fine', 'h1')]));
    state.putGuard({ host: 'h1', structure: 'broken' }, { structure: 'broken', version: 'seven' });
    const report = await runTick({ state, metrics: sameUsage({ cpu: 240 }), sink, logger: silentLogger }, T0);
    expect(report).toMatchObject({ structures: 1, problems: 1, skips: { bad_state: 1 } });
    expect(state.guard({ host: 'h1', structure: 'broken' })).toEqual({
      structure: 'broken',
      version: 'seven',
    });
  });

  it('refuses a stored rule that fails its check, and still decides with the others', async () => {
    const { state, sink } = setup();
    state.rules.push({ ...DEFAULT_RULES[2], name: 'bad_rule', rule: { method: ['x'] } });
    state.putHost(aHost('h1', [aContainer('hot', 'h1')]));
    const report = await runTick({ state, metrics: sameUsage({ cpu: 290 }), sink, logger: silentLogger }, T0);
    expect(report).toMatchObject({ problems: 1, submitted: 1 });
  });

  it('does nothing but read its config when the Guardian is not active', async () => {
    const { state, sink } = setup({ ACTIVE: false });
    state.putHost(aHost('h1', [aContainer('hot', 'h1')]));
    const report = await runTick({ state, metrics: sameUsage({ cpu: 290 }), sink, logger: silentLogger }, T0);
    expect(report).toMatchObject({ active: false, structures: 0, ddbReads: 1, ddbWrites: 0 });
  });

  it('holds events and decisions in memory between ticks and writes them at the checkpoint', async () => {
    const { state, sink } = setup();
    state.putHost(aHost('h1', [aContainer('low', 'h1')]));
    const deps = { state, metrics: sameUsage({ cpu: 100 }), sink, logger: silentLogger }; // < lower 220
    const memory: TickMemory = { config: defaultConfig('guardian') };
    const first = await runTick(deps, T0, memory);
    expect(first.guardWrites).toBe(1); // new limits: written at once
    const second = await runTick(deps, T0 + WINDOW_MS, memory);
    // a second down event (CpuRescaleDown needs 6): only in memory
    expect(second).toMatchObject({ fullRead: false, guardWrites: 0, unpersisted: 1, events: 1 });
    expect(state.guard({ host: 'h1', structure: 'low' })?.events).toHaveLength(1);
    expect(await checkpoint(deps, memory)).toEqual({ written: 1, stale: 0 });
    expect(state.guard({ host: 'h1', structure: 'low' })).toMatchObject({ version: 2 });
    expect(state.guard({ host: 'h1', structure: 'low' })?.events).toHaveLength(2);
  });

  it('adopts the stored state when someone else wrote it since (a lost race)', async () => {
    const { state, sink } = setup();
    state.putHost(aHost('h1', [aContainer('hot', 'h1')]));
    const ref = { host: 'h1', structure: 'hot' };
    const operator = { structure: 'hot', structureType: 'container', version: 5, limits: {}, events: [] };
    state.beforeWrite = () => {
      state.putGuard(ref, operator);
      state.beforeWrite = null;
    };
    const report = await runTick({ state, metrics: sameUsage({ cpu: 290 }), sink, logger: silentLogger }, T0);
    expect(report).toMatchObject({ guardWrites: 0, staleWrites: 1 });
    expect(state.guard(ref)).toMatchObject({ version: 5 });
  });

  it('reads host states only on the ticks between full reads, and the guard state of a container first seen', async () => {
    const { state, sink } = setup();
    state.putHost(aHost('h1', [aContainer('a', 'h1')]));
    const deps = { state, metrics: sameUsage({ cpu: 240 }), sink, logger: silentLogger };
    const memory: TickMemory = { config: defaultConfig('guardian') };
    await runTick(deps, T0, memory);
    state.putHost(aHost('h1', [aContainer('a', 'h1'), aContainer('b', 'h1')]));
    state.putGuard(
      { host: 'h1', structure: 'b' },
      { structure: 'b', structureType: 'container', version: 3, limits: {}, events: [] },
    );
    const reads = state.counters.reads;
    const second = await runTick(deps, T0 + WINDOW_MS, memory);
    // config, rules, the hosts' states (one batch), the new container's guard state (one batch)
    expect(state.counters.reads - reads).toBe(4);
    expect(second).toMatchObject({ fullRead: false, structures: 2 });
    expect(state.guard({ host: 'h1', structure: 'b' })).toMatchObject({ version: 4 }); // limits set on v3
  });

  it("takes a process's young host listing for a full read, and lists again once it is a full-read period old", async () => {
    const { state, sink } = setup();
    state.putHost(aHost('h1', [aContainer('a', 'h1')]));
    let listings = 0;
    const list = state.listHosts.bind(state);
    state.listHosts = async () => {
      listings += 1;
      return list();
    };
    const listing: HostListing = { maxAgeMs: 60_000, held: null };
    const deps = { state, metrics: sameUsage({ cpu: 240 }), sink, logger: silentLogger, listing };
    const fresh = (): TickMemory => ({ config: defaultConfig('guardian') }); // another chain's first tick
    await runTick(deps, T0, fresh());
    expect(listings).toBe(1);
    state.putHost(aHost('h2', [aContainer('b', 'h2')])); // a host added after the listing
    const other = fresh();
    const second = await runTick(deps, T0 + 10_000, other);
    expect(listings).toBe(1); // the listing of 10 s ago served this full read
    expect(second).toMatchObject({ fullRead: true, structures: 1 });
    // its age counts towards the next full read: due when the listing is 60 s old, not 60 s after this one
    const fullReads: number[] = [];
    for (let at = T0 + 15_000; at <= T0 + 60_000; at += WINDOW_MS)
      if ((await runTick(deps, at, other)).fullRead) fullReads.push(at - T0);
    expect(fullReads).toEqual([60_000]);
    expect(listings).toBe(2);
    expect((await runTick(deps, T0 + 65_000, other)).structures).toBe(2); // h2's container, within 60 s
    // a third chain's first tick takes the new listing
    expect(await runTick(deps, T0 + 70_000, fresh())).toMatchObject({ fullRead: true, structures: 2 });
    expect(listings).toBe(2);
  });
});

describe('runTick at application level', () => {
  const app = (over: Partial<Application> = {}): Application => ({
    name: 'shop',
    user: null,
    guard: true,
    state: 'running',
    containers: ['a1', 'a2', 'gone'],
    resources: { cpu: { max: 800, min: 100, current: 0, guard: true, weight: 3 } },
    version: 1,
    ...over,
  });

  it("decides on the sum of the present containers' usage and current, and stores the application's guard state", async () => {
    const { state, sink } = setup({ STRUCTURE_GUARDED: 'application' });
    state.putHost(
      aHost('h1', [
        aContainer('a1', 'h1', { guard: false, application: 'shop' }),
        aContainer('a2', 'h1', { guard: false, application: 'shop' }),
      ]),
    );
    state.applications.set('shop', app());
    const { metrics, queries } = usageOf({ a1: { cpu: 290 }, a2: { cpu: 290 } });
    const report = await runTick({ state, metrics, sink, logger: silentLogger }, T0);
    expect(queries.map((q) => q.structures)).toEqual([['a1', 'a2']]);
    expect(report).toMatchObject({ structures: 1, submitted: 1 });
    // current 300 + 300 = 600 of max 800: margin 80, upper 600 − 80 = 520 < usage 290 + 290 = 580
    expect(sink.recorded.map((r) => [r.structure, r.structureType, r.usage, r.amount])).toEqual([
      ['shop', 'application', 580, 200], // trimmed to max: 800 − 600 = 200
    ]);
    expect(state.guard({ host: null, structure: 'shop' })).toMatchObject({
      structureType: 'application',
      limits: { cpu: { upper: 520, lower: 440 } },
    });
  });

  it('does not guard a stopped or unguarded application', async () => {
    const { state, sink } = setup({ STRUCTURE_GUARDED: 'application' });
    state.putHost(aHost('h1', [aContainer('a1', 'h1', { application: 'shop' })]));
    state.applications.set('shop', app({ state: 'stopped' }));
    state.applications.set('blog', app({ name: 'blog', guard: false }));
    const report = await runTick({ state, metrics: sameUsage({ cpu: 290 }), sink, logger: silentLogger }, T0);
    expect(report.structures).toBe(0);
  });
});
