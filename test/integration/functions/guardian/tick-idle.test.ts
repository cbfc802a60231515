/**
 * Idle is data, absent holds — through the Guardian tick, on the emulators
 * (dynalite, VictoriaMetrics, the OpenTSDB 2.4 stand-in), with the default rules.
 * BDWatchdog sends nothing for an idle container; the host agent's own
 * `sc.agent.cpu` series (≈ 0 while the container runs) says it is idle. A TSD,
 * agent or container that is down leaves no series at all: nothing may shrink.
 */

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GuardianStore } from '../../../../adapters/dynamodb/guardian-store.ts';
import { OpenTsdbMetricsSource } from '../../../../adapters/metrics/opentsdb.ts';
import { PrometheusMetricsSource } from '../../../../adapters/metrics/prometheus.ts';
import { defaultConfig } from '../../../../core/contracts/service-config.ts';
import { DEFAULT_RULES } from '../../../../core/policy/default-rules.ts';
import type { MetricsSource } from '../../../../core/ports/metrics-source.ts';
import { RecordingRequestSink } from '../../../../functions/guardian/recording-request-sink.ts';
import { runTick, type TickMemory } from '../../../../functions/guardian/tick.ts';
import { flushVictoria, type ProcessSample, putBdwatchdog } from '../../../support/bdwatchdog.ts';
import { captureLogger } from '../../../support/capture-logger.ts';
import { aContainer } from '../../../support/containers.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { uniqueName, victoriaOpentsdbUrl, victoriaPromUrl } from '../../../support/env.ts';
import { aHost, putGuardianConfig, putHost, putRules } from '../../../support/guardian-fixtures.ts';
import {
  BDWATCHDOG_METRICS,
  type OpenTsdbStandIn,
  startOpenTsdbStandIn,
} from '../../../support/opentsdb-standin.ts';

let front: OpenTsdbStandIn;
let t: TestTable;
const n = {
  idle: uniqueName('idle'), // running, BDWatchdog silent, agent says ≈ 0 CPU
  zero: uniqueName('zero'), // usage published as 0 (the agent's own publisher): no evidence needed
  busy: uniqueName('busy'), // real usage inside the stable band: stays
  stopped: uniqueName('stopped'), // its agent is alive (other containers have points) but it runs no more
  orphan: uniqueName('orphan'), // on a host whose agent is down: no series at all
};
const alive = uniqueName('alive');
const dead = uniqueName('dead');
// Windows of the default config: 5 s read 2 s behind; ticks at base, base + 5, …
const base = Math.floor(Date.now() / 1000 / 5) * 5 - 120;
const TICKS = 8; // CpuRescaleDown needs 6 down events

beforeAll(async () => {
  front = await startOpenTsdbStandIn({ metrics: [...BDWATCHDOG_METRICS, 'sc.agent.cpu'] });
  t = await createTestTable('dynalite');
  await putGuardianConfig(t.table, { GUARDABLE_RESOURCES: ['cpu', 'mem'] });
  await putRules(t.table, DEFAULT_RULES);
  await putHost(
    t.table,
    aHost(
      alive,
      [n.idle, n.zero, n.busy, n.stopped].map((c) => aContainer(c, alive)),
    ),
  );
  await putHost(t.table, aHost(dead, [aContainer(n.orphan, dead)]));
  const samples: ProcessSample[] = [];
  for (let s = base - 10; s <= base + 5 * TICKS; s += 1) {
    samples.push({ container: n.idle, metric: 'sc.agent.cpu', t: s, value: 0 });
    samples.push({ container: n.zero, metric: 'proc.cpu.user', t: s, value: 0 });
    samples.push({ container: n.zero, metric: 'proc.mem.resident', t: s, value: 1500 });
    samples.push({ container: n.zero, metric: 'sc.agent.cpu', t: s, value: 0 });
    samples.push({ container: n.busy, metric: 'proc.cpu.user', t: s, value: 240 }); // lower 220 ≤ 240 ≤ upper 260
    samples.push({ container: n.busy, metric: 'sc.agent.cpu', t: s, value: 240 });
    // the stopped container ran until before the first window, then the agent stopped seeing it
    if (s < base - 8) samples.push({ container: n.stopped, metric: 'sc.agent.cpu', t: s, value: 0 });
  }
  await putBdwatchdog(victoriaOpentsdbUrl(), samples);
  front.load(
    samples.map((p) => ({
      metric: p.metric,
      timestamp: p.t,
      value: Number(p.value),
      tags: { host: p.container },
    })),
  );
  await flushVictoria(victoriaPromUrl());
});
afterAll(async () => {
  await t.drop();
  await front.stop();
});

async function run(metrics: MetricsSource) {
  const { logger } = captureLogger();
  const sink = new RecordingRequestSink(logger);
  const memory: TickMemory = { config: defaultConfig('guardian') };
  const skips: number[] = [];
  for (let i = 0; i < TICKS; i++) {
    const r = await runTick(
      { state: new GuardianStore(t.table), metrics, sink, logger },
      (base + 5 * i) * 1000,
      memory,
    );
    skips.push(r.skips.no_data);
  }
  const requests = sink.recorded.map((r) => [r.structure, r.resource, Math.sign(r.amount)]);
  return { requests, skips };
}

describe.each(['opentsdb', 'prometheus'] as const)('idle vs absent through the tick (%s)', (backend) => {
  const source = (url: string) =>
    backend === 'opentsdb'
      ? new OpenTsdbMetricsSource({ url, idleEvidence: true, retries: 0, timeoutMs: 500 })
      : new PrometheusMetricsSource({ url, idleEvidence: true, retries: 0, timeoutMs: 500 });

  it('scales an idle container and one at 0 down after six windows; a stopped one and one whose agent is down hold', async () => {
    const out = await run(source(backend === 'opentsdb' ? front.url : victoriaPromUrl()));
    expect(out.requests.sort()).toEqual(
      [
        [n.idle, 'cpu', -1],
        [n.zero, 'cpu', -1],
      ].sort(),
    );
    // no data, every tick: idle mem (idle holds memory), busy mem (no series), stopped cpu + mem, orphan cpu + mem
    expect(out.skips).toEqual(Array(TICKS).fill(1 + 1 + 2 + 2));
  });

  it('scales nothing down while the TSD is down', async () => {
    const out = await run(source('http://127.0.0.1:9'));
    expect(out.requests).toEqual([]);
    expect(out.skips).toEqual(Array(TICKS).fill(5 * 2)); // five containers × cpu, mem
  });
});
