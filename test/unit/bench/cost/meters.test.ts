import { describe, expect, it } from '@jest/globals';
import { countingFetch, emfOf, LogMeter, templateFacts } from '../../../../bench/cost/meters.ts';
import { sanityMetrics } from '../../../../functions/handlers/middleware.ts';

const yml = (resources: string, provider = '  logRetentionInDays: 14\n  tracing:\n    lambda: true\n') =>
  `provider:\n  name: aws\n${provider}\nresources:\n  Resources:\n${resources}`;

describe('templateFacts', () => {
  it('counts one metric per alarm, each MetricStat of a metric-math alarm, and the dashboards', () => {
    const f = templateFacts(
      yml(`    A:
      Type: AWS::CloudWatch::Alarm
      Properties:
        MetricName: Ticks
    B:
      Type: AWS::CloudWatch::Alarm
      Properties:
        Metrics:
          - Id: e
            Expression: SUM([x, y])
          - Id: x
            MetricStat: {}
          - Id: y
            MetricStat: {}
    D:
      Type: AWS::CloudWatch::Dashboard
      Properties: {}
`),
    );
    expect(f).toMatchObject({ alarmMetrics: 3, dashboards: 1, logRetentionDays: 14, tracing: true }); // 1 + 2
  });

  it('tells the table’s key: none → AWS owned, SSEEnabled → AWS managed, with a key id → customer managed', () => {
    const table = (sse: string) =>
      yml(
        `    T:\n      Type: AWS::DynamoDB::Table\n      Properties:\n        BillingMode: PAY_PER_REQUEST\n${sse}`,
      );
    expect(templateFacts(table('')).tableKey).toBe('aws-owned');
    expect(templateFacts(table('        SSESpecification: { SSEEnabled: true }\n')).tableKey).toBe(
      'aws-managed',
    );
    expect(
      templateFacts(
        table('        SSESpecification:\n          SSEEnabled: true\n          KMSMasterKeyId: alias/x\n'),
      ).tableKey,
    ).toBe('customer-managed');
  });

  it('refuses a template without log retention (logs kept forever cannot be priced)', () => {
    expect(() => templateFacts(yml('', '  tracing:\n    lambda: true\n'))).toThrow(/logRetentionInDays/);
  });
});

describe('LogMeter', () => {
  it('counts bytes and one event per non-empty line, and starts over when taken', () => {
    const m = new LogMeter();
    m.stream.write('{"a":1}\n{"é":2}\n');
    m.add('\n');
    expect(m.take()).toEqual({ bytes: 7 + 8, events: 2 }); // "é" is 2 bytes in UTF-8
    expect(m.take()).toEqual({ bytes: 0, events: 0 });
  });
});

describe('emfOf', () => {
  it('measures the EMF document Powertools writes, with each metric’s identity', () => {
    const e = emfOf('sanity', 'ns', (m) => sanityMetrics(m, [], 2));
    expect(e.events).toBe(1);
    expect(e.bytes).toBeGreaterThan(200);
    expect(e.metrics.sort()).toEqual([
      'ns/AgentsDegraded/service=sanity',
      'ns/OrdersDeadLettered/service=sanity',
      'ns/OrdersResent/service=sanity',
    ]);
  });

  it('counts Powertools’ warning line when an invocation adds no metric', () => {
    const e = emfOf('snapshoter', 'ns', () => undefined);
    expect(e).toMatchObject({ events: 1, metrics: [] });
    expect(e.bytes).toBeGreaterThan(50);
  });
});

describe('countingFetch', () => {
  it('counts what is sent and received when asked, and nothing otherwise', async () => {
    const inner = (async () =>
      new Response('x'.repeat(1000), {
        status: 200,
        headers: { 'content-type': 'text/plain' },
      })) as typeof fetch;
    const { fetch, bytes } = countingFetch(inner, (url) => url.pathname === '/api/put');
    await fetch('http://tsd:4242/internal/flush');
    expect(bytes.requests).toBe(0);
    const res = await fetch('http://tsd:4242/api/put?details', { method: 'POST', body: 'y'.repeat(500) });
    expect(await res.text()).toHaveLength(1000); // the caller still reads the whole body
    expect(bytes.requests).toBe(1);
    expect(bytes.sentBytes).toBeGreaterThan(500);
    expect(bytes.sentBytes).toBeLessThan(600);
    expect(bytes.receivedBytes).toBeGreaterThan(1000);
  });
});
