import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GuardianStore } from '../../../../adapters/dynamodb/guardian-store.ts';
import { silentLogger } from '../../../../adapters/logger.ts';
import { PrometheusMetricsSource } from '../../../../adapters/metrics/prometheus.ts';
import { defaultConfig } from '../../../../core/contracts/service-config.ts';
import type { Application } from '../../../../core/contracts/structure.ts';
import { keys } from '../../../../core/contracts/table-layout.ts';
import { DEFAULT_RULES } from '../../../../core/policy/default-rules.ts';
import { RecordingRequestSink } from '../../../../functions/guardian/recording-request-sink.ts';
import { runTick } from '../../../../functions/guardian/tick.ts';
import { flushVictoria, type ProcessSample, putBdwatchdog } from '../../../support/bdwatchdog.ts';
import { aContainer } from '../../../support/containers.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS, uniqueName, victoriaOpentsdbUrl, victoriaPromUrl } from '../../../support/env.ts';
import { aHost, putGuardianConfig, putHost, putRules } from '../../../support/guardian-fixtures.ts';

describe.each(DYNAMO_FLAVOURS)('guardian tick at application level on %s', (flavour) => {
  let t: TestTable;
  const app = uniqueName('app');
  const [a1, a2] = [uniqueName('a1'), uniqueName('a2')];
  const host = uniqueName('h');
  const base = Math.floor(Date.now() / 1000 / 5) * 5 - 30;

  beforeAll(async () => {
    t = await createTestTable(flavour);
    await putGuardianConfig(t.table, { STRUCTURE_GUARDED: 'application', GUARDABLE_RESOURCES: ['cpu'] });
    await putRules(t.table, DEFAULT_RULES);
    // containers need not be guarded themselves at application level
    await putHost(
      t.table,
      aHost(host, [
        aContainer(a1, host, { guard: false, application: app }),
        aContainer(a2, host, { guard: false, application: app }),
      ]),
    );
    const application: Application = {
      name: app,
      user: null,
      guard: true,
      state: 'running',
      containers: [a1, a2],
      resources: { cpu: { max: 800, min: 100, current: 0, guard: true, weight: 1 } },
      version: 1,
    };
    await t.table.put({ ...keys.application(app), ...application });
    const samples: ProcessSample[] = [];
    for (let s = base - 60; s <= base + 10; s += 5) {
      samples.push({ container: a1, metric: 'proc.cpu.user', t: s, value: 290 });
      samples.push({ container: a2, metric: 'proc.cpu.user', t: s, value: 290 });
    }
    await putBdwatchdog(victoriaOpentsdbUrl(), samples);
    await flushVictoria(victoriaPromUrl());
  });
  afterAll(async () => {
    await t.drop();
  });

  it('aggregates its containers in memory and requests for the application', async () => {
    const sink = new RecordingRequestSink(silentLogger);
    const deps = {
      state: new GuardianStore(t.table),
      metrics: new PrometheusMetricsSource({ url: victoriaPromUrl() }),
      sink,
      logger: silentLogger,
    };
    const memory = { config: defaultConfig('guardian') };
    // app current = 300 + 300 = 600, margin 10 % of 800 = 80 → upper 520; usage 290 + 290 = 580 > 520
    const first = await runTick(deps, base * 1000, memory);
    expect(first.structures).toBe(1);
    expect(first.events).toBe(1);
    const second = await runTick(deps, (base + 5) * 1000, memory);
    expect(second.requests.map((r) => [r.structure, r.structureType, r.resource, r.amount, r.usage])).toEqual(
      // 580 fills 600 (≥ 600 − 80/2): max(75, 600 × 1) = 600, trimmed to max 800 → +200
      [[app, 'application', 'cpu', 200, 580]],
    );
    const guard = await t.table.get(keys.applicationGuard(app));
    expect(guard).toMatchObject({
      structure: app,
      structureType: 'application',
      limits: { cpu: { upper: 520, lower: 440 } },
    });
  });
});
