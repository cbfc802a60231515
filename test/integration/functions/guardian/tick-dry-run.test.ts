import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { recentActivity } from '../../../../adapters/dynamodb/activity.ts';
import { GuardianStore } from '../../../../adapters/dynamodb/guardian-store.ts';
import { silentLogger } from '../../../../adapters/logger.ts';
import { PrometheusMetricsSource } from '../../../../adapters/metrics/prometheus.ts';
import { defaultConfig } from '../../../../core/contracts/service-config.ts';
import { keys } from '../../../../core/contracts/table-layout.ts';
import { RecordingRequestSink } from '../../../../functions/guardian/recording-request-sink.ts';
import { runTick } from '../../../../functions/guardian/tick.ts';
import { flushVictoria, type ProcessSample, putBdwatchdog } from '../../../support/bdwatchdog.ts';
import { aContainer } from '../../../support/containers.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS, uniqueName, victoriaOpentsdbUrl, victoriaPromUrl } from '../../../support/env.ts';
import { aHost, putGuardianConfig, putHost, putRules } from '../../../support/guardian-fixtures.ts';
import { TWO_EVENT_CPU_UP_RULES } from './two-event-rules.ts';

describe.each(DYNAMO_FLAVOURS)('guardian dry run on %s', (flavour) => {
  let t: TestTable;
  const [global, marked, live] = [uniqueName('g'), uniqueName('m'), uniqueName('l')];
  const host = uniqueName('h');
  const base = Math.floor(Date.now() / 1000 / 5) * 5 - 30;

  beforeAll(async () => {
    t = await createTestTable(flavour);
    await putRules(t.table, TWO_EVENT_CPU_UP_RULES);
    await putHost(
      t.table,
      aHost(host, [aContainer(global, host), aContainer(marked, host), aContainer(live, host)]),
    );
    // per-structure dry run: the operator marked this container's guard state
    await t.table.put({
      ...keys.guard(host, marked),
      structure: marked,
      structureType: 'container',
      version: 3,
      limits: {},
      events: [],
      lastDecision: null,
      dryRun: true,
    });
    const samples: ProcessSample[] = [];
    for (let s = base - 60; s <= base + 10; s += 5) {
      for (const c of [global, marked, live])
        samples.push({ container: c, metric: 'proc.cpu.user', t: s, value: 290 });
    }
    await putBdwatchdog(victoriaOpentsdbUrl(), samples);
    await flushVictoria(victoriaPromUrl());
  });
  afterAll(async () => {
    await t.drop();
  });

  it('records what it would request and submits nothing for dry-run structures', async () => {
    const sink = new RecordingRequestSink(silentLogger);
    const deps = {
      state: new GuardianStore(t.table),
      metrics: new PrometheusMetricsSource({ url: victoriaPromUrl() }),
      sink,
      logger: silentLogger,
    };
    const memory = { config: defaultConfig('guardian') };
    await putGuardianConfig(t.table, { GUARDABLE_RESOURCES: ['cpu'] });
    await runTick(deps, base * 1000, memory);
    const second = await runTick(deps, (base + 5) * 1000, memory);
    expect(second.requests.map((r) => r.structure).sort()).toEqual([global, live, marked].sort());
    expect(second.dryRun).toBe(1);
    expect(sink.recorded.map((r) => r.structure).sort()).toEqual([global, live].sort());
    // The tick packs its lines under the host's partition.
    const log = (await recentActivity(t.table, marked, 50, (base + 5) * 1000, { host })).reverse();
    // usage 290 fills current 300: max(75, 300 × SCALE_UP_GROWTH 1) = 300, trimmed to max 400 → +100
    expect(log.at(-1)).toMatchObject({ kind: 'decision', text: 'dry run: would request CpuRescaleUp +100' });

    await putGuardianConfig(t.table, { GUARDABLE_RESOURCES: ['cpu'], DRY_RUN: true });
    await runTick(deps, (base + 10) * 1000, memory);
    const fourth = await runTick(deps, (base + 15) * 1000, memory);
    expect(fourth.requests.length).toBe(3); // global switch: everyone dry
    expect(fourth.dryRun).toBe(3);
    expect(sink.recorded).toHaveLength(2); // still only the two live requests of the first phase
  });
});
