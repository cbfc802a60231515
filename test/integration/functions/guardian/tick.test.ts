import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { recentActivity } from '../../../../adapters/dynamodb/activity.ts';
import { GuardianStore } from '../../../../adapters/dynamodb/guardian-store.ts';
import { OpenTsdbMetricsSource } from '../../../../adapters/metrics/opentsdb.ts';
import { PrometheusMetricsSource } from '../../../../adapters/metrics/prometheus.ts';
import { defaultConfig } from '../../../../core/contracts/service-config.ts';
import { keys } from '../../../../core/contracts/table-layout.ts';
import { DEFAULT_RULES } from '../../../../core/policy/default-rules.ts';
import type { MetricsSource } from '../../../../core/ports/metrics-source.ts';
import type { Point } from '../../../../core/ports/time-series.ts';
import { RecordingRequestSink } from '../../../../functions/guardian/recording-request-sink.ts';
import { runTick, type TickMemory } from '../../../../functions/guardian/tick.ts';
import { flushVictoria, type ProcessSample, putBdwatchdog } from '../../../support/bdwatchdog.ts';
import { captureLogger } from '../../../support/capture-logger.ts';
import { aContainer } from '../../../support/containers.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS, uniqueName, victoriaOpentsdbUrl, victoriaPromUrl } from '../../../support/env.ts';
import { aHost, putGuardianConfig, putHost, putRules } from '../../../support/guardian-fixtures.ts';
import {
  BDWATCHDOG_METRICS,
  type OpenTsdbStandIn,
  startOpenTsdbStandIn,
} from '../../../support/opentsdb-standin.ts';
import { TWO_EVENT_CPU_UP_RULES } from './two-event-rules.ts';

// The OpenTSDB backend is the OpenTSDB 2.4 stand-in, fed the same BDWatchdog puts as VictoriaMetrics.
let front: OpenTsdbStandIn;
beforeAll(async () => {
  front = await startOpenTsdbStandIn({ metrics: BDWATCHDOG_METRICS });
});
afterAll(async () => {
  await front.stop();
});

const BACKENDS = ['opentsdb', 'prometheus'] as const;
const cases = DYNAMO_FLAVOURS.flatMap((f) => BACKENDS.map((b) => [f, b] as const));

describe.each(cases)('guardian tick on %s with %s metrics', (flavour, backend) => {
  let t: TestTable;
  const n = {
    hot: uniqueName('hot'),
    idle: uniqueName('idle'),
    never: uniqueName('never'),
    off: uniqueName('off'),
    corrupt: uniqueName('corrupt'),
    hot2: uniqueName('hot2'),
  };
  const h1 = uniqueName('h1');
  const h2 = uniqueName('h2');
  const base = Math.floor(Date.now() / 1000 / 5) * 5 - 30; // tick 1 at base, tick 2 at base + 5 (epoch s)

  beforeAll(async () => {
    t = await createTestTable(flavour);
    await putGuardianConfig(t.table, {
      WINDOW_TIMELAPSE: 5,
      WINDOW_DELAY: 2,
      EVENT_TIMEOUT: 60,
      GUARDABLE_RESOURCES: ['cpu', 'mem'],
    });
    await putRules(t.table, TWO_EVENT_CPU_UP_RULES);
    await t.table.put({
      ...keys.rule('bad_rule'),
      ...DEFAULT_RULES[2],
      name: 'bad_rule',
      rule: { method: ['x'] },
    });
    await putHost(
      t.table,
      aHost(h1, [
        aContainer(n.hot, h1),
        aContainer(n.idle, h1),
        aContainer(n.never, h1),
        aContainer(n.off, h1, { guard: false }),
        aContainer(n.corrupt, h1),
      ]),
    );
    await putHost(t.table, aHost(h2, [aContainer(n.hot2, h2)]));
    await t.table.put({ ...keys.guard(h1, n.corrupt), structure: n.corrupt, version: 'seven' });
    // BDWatchdog points every 5 s, constant per process: cpu max 400 → margin 40, upper 260, lower 220.
    const samples: ProcessSample[] = [];
    const series: [string, string, string, number][] = [
      [n.hot, 'proc.cpu.user', '1', 250],
      [n.hot, 'proc.cpu.kernel', '1', 40], // 290 > upper 260
      [n.hot2, 'proc.cpu.user', '3', 290],
      [n.idle, 'proc.cpu.user', '1', 100], // < lower 220
      [n.off, 'proc.cpu.user', '1', 390],
      [n.corrupt, 'proc.cpu.user', '1', 390],
    ];
    for (const c of [n.hot, n.hot2, n.idle]) series.push([c, 'proc.mem.resident', '1', 1500]); // 1230 ≤ 1500 ≤ 1639
    for (let s = base - 60; s <= base + 10; s += 5)
      for (const [container, metric, pid, value] of series)
        samples.push({ container, metric, pid, t: s, value });
    await putBdwatchdog(victoriaOpentsdbUrl(), samples);
    await putBdwatchdog(front.url, samples);
    await flushVictoria(victoriaPromUrl());
  });
  afterAll(async () => {
    await t.drop();
  });

  it('adds events on the first tick and requests CpuRescaleUp on the second (+100: to max)', async () => {
    const metrics: MetricsSource =
      backend === 'opentsdb'
        ? new OpenTsdbMetricsSource({ url: front.url })
        : new PrometheusMetricsSource({ url: victoriaPromUrl() });
    const { logger, lines } = captureLogger();
    const sink = new RecordingRequestSink(logger);
    const memory: TickMemory = { config: defaultConfig('guardian') };
    const deps = { state: new GuardianStore(t.table), metrics, sink, logger };

    const first = await runTick(deps, base * 1000, memory);
    expect(first.structures).toBe(4); // hot, idle, never, hot2 (off unguarded, corrupt skipped)
    expect(first.skips).toEqual({ no_data: 2, bad_usage: 0, bad_state: 1 }); // never: cpu + mem
    expect(first.events).toBe(3); // hot up, hot2 up, idle down
    expect(first.requests).toEqual([]);
    expect(first.problems).toBe(2); // bad_rule refused, corrupt guard state
    expect(first.ddbReads).toBe(5); // config, rules, host list, 2 host partitions
    expect(first.tsdbQueries).toBe(backend === 'opentsdb' ? 2 : 3); // 400 for `never` + retry | cpu 2 + mem 1 metrics
    expect(first.guardWrites).toBe(4);

    const second = await runTick(deps, (base + 5) * 1000, memory);
    // usage 290 fills current 300 (≥ 300 − 40/2): max(75, 300 × SCALE_UP_GROWTH 1) = 300,
    // trimmed to max 400 → +100
    expect(second.requests.map((r) => [r.structure, r.resource, r.amount]).sort()).toEqual(
      [
        [n.hot, 'cpu', 100],
        [n.hot2, 'cpu', 100],
      ].sort(),
    );
    expect(second.requests[0]?.reasons[0]).toMatchObject({
      source: 'CpuRescaleUp',
      values: { up: 2, down: 0 },
    });
    expect(sink.recorded).toHaveLength(2);
    expect(second.guardWrites).toBe(2); // hot, hot2 (events consumed); idle's second down event stays in memory
    expect(second.unpersisted).toBe(1); // idle, until the invocation's checkpoint

    const hot = await t.table.get(keys.guard(h1, n.hot));
    expect(hot).toMatchObject({ version: 2, events: [], limits: { cpu: { upper: 260, lower: 220 } } });
    expect(hot?.lastDecision).toMatchObject({ text: 'CpuRescaleUp +100' });
    const corrupt = await t.table.get(keys.guard(h1, n.corrupt));
    expect(corrupt?.version).toBe('seven'); // never overwritten
    // The tick packs its lines under the host's partition.
    const log = (await recentActivity(t.table, n.hot, 50, (base + 5) * 1000, { host: h1 })).reverse();
    expect(log.map((a) => [a.kind, a.text])).toEqual([
      ['event', 'CpuBottleneck (cpu_exceeded_upper)'], // the start of the run; the second is in the request's counts
      ['request', 'CpuRescaleUp +100'],
    ]);
    const errors = lines()
      .filter((l) => l.level === 50)
      .map((l) => String(l.msg));
    expect(errors.some((m) => m.includes('rule bad_rule') && m.includes('unknown operator "method"'))).toBe(
      true,
    );
  });

  it('publishes the host and container snapshot it holds, one put per tick, and a failed put fails nothing', async () => {
    const metrics: MetricsSource =
      backend === 'opentsdb'
        ? new OpenTsdbMetricsSource({ url: front.url })
        : new PrometheusMetricsSource({ url: victoriaPromUrl() });
    const { logger, lines } = captureLogger();
    const puts: Point[][] = [];
    const deps = {
      state: new GuardianStore(t.table),
      metrics,
      sink: new RecordingRequestSink(logger),
      logger,
      snapshots: { put: async (p: readonly Point[]) => void puts.push([...p]) },
    };
    const at = (base + 10) * 1000;
    const report = await runTick(deps, at, { config: defaultConfig('guardian') });
    expect(report.structures).toBe(4);
    expect(puts).toHaveLength(1);
    const points = puts[0] ?? [];
    const value = (metric: string, structure: string) =>
      points.find((p) => p.metric === metric && p.tags.structure === structure)?.value;
    expect(points.every((p) => p.timestamp === at)).toBe(true);
    // h1: cpu 1600 with 400 free → 1200 allocated; mem 65 536 with 32 768 free → 32 768
    expect(value('structure.cpu.current', h1)).toBe(1600 - 400);
    expect(value('structure.mem.current', h1)).toBe(65536 - 32768);
    // hot: its state (max 400, current 300), the usage of this window (250 + 40) and the limits decided
    expect(value('structure.cpu.max', n.hot)).toBe(400);
    expect(value('structure.cpu.current', n.hot)).toBe(300);
    expect(value('structure.cpu.usage', n.hot)).toBe(250 + 40);
    expect(value('limit.cpu.upper', n.hot)).toBe(260);
    expect(value('limit.cpu.lower', n.hot)).toBe(220);
    // unguarded: state without usage or limits
    expect(value('structure.cpu.current', n.off)).toBe(300);
    expect(value('structure.cpu.usage', n.off)).toBeUndefined();
    expect(value('limit.cpu.upper', n.off)).toBeUndefined();

    const failing = { ...deps, snapshots: { put: async () => Promise.reject(new Error('tsdb down')) } };
    const next = await runTick(failing, at + 5_000, { config: defaultConfig('guardian') });
    expect(next.structures).toBe(4);
    expect(lines().some((l) => l.msg === 'snapshot not published; the tick goes on')).toBe(true);
  });
});
