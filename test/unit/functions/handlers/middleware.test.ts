import { Writable } from 'node:stream';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from '@jest/globals';
import { createLogger, silentLogger } from '../../../../adapters/logger.ts';
import { NotFoundError, StaleStateError, ValidationError } from '../../../../core/errors.ts';
import type { ChainOutcome } from '../../../../functions/guardian/chain.ts';
import type { TickReport } from '../../../../functions/guardian/tick.ts';
import {
  chainMetrics,
  classifyError,
  lambdaHandler,
  METRIC,
  sanityMetrics,
  sanityRoundsMetrics,
} from '../../../../functions/handlers/middleware.ts';

const aReport = (at: number, o: Partial<TickReport> = {}): TickReport =>
  ({ at, decisions: 3, requests: [{}, {}], ...o }) as unknown as TickReport;
const ran = (report: TickReport | null): ChainOutcome => ({
  ran: true,
  report,
  next: { chain: 'c', at: 0 },
  delayS: 5,
  resumed: true,
  carry: null,
});
/** The EMF document the invocation would flush, as name → values. */
function emitted(m: Metrics): Record<string, unknown> {
  const emf = m.serializeMetrics() as unknown as Record<string, unknown>;
  const names = (
    emf._aws as { CloudWatchMetrics: { Metrics: { Name: string }[] }[] }
  ).CloudWatchMetrics[0]?.Metrics.map((x) => x.Name);
  return Object.fromEntries((names ?? []).map((n) => [n, emf[n]]));
}

describe('handler metrics (EMF)', () => {
  it('counts a chained tick that failed as a failed tick, beside the ones that ran', () => {
    const m = new Metrics({ namespace: 'test', serviceName: 'controlTick' });
    chainMetrics(
      m,
      [ran(aReport(10_000)), ran(null), { ran: false, reason: 'duplicate-or-other-chain' }],
      10_750,
      4,
    );
    expect(emitted(m)).toMatchObject({
      [METRIC.ticks]: 2, // one report + one failure; the dropped duplicate is not a tick
      [METRIC.failedTicks]: 1,
      [METRIC.tickAge]: 750, // invoked at 10 750 for the window at 10 000
      [METRIC.decisions]: 3,
      [METRIC.requests]: 2,
      [METRIC.ordersSent]: 4,
    });
  });

  it('reports zero failed ticks when every tick ran', () => {
    const m = new Metrics({ namespace: 'test', serviceName: 'controlTick' });
    chainMetrics(m, [ran(aReport(0))], 0, 0);
    expect(emitted(m)).toMatchObject({ [METRIC.failedTicks]: 0, [METRIC.ticks]: 1 });
  });

  it('counts the agents the sanity sweep marked degraded and the orders it re-sent', () => {
    const m = new Metrics({ namespace: 'test', serviceName: 'sanity' });
    sanityMetrics(m, [
      { check: 'agent', structure: 'h1', text: '', action: 'marked-degraded' },
      { check: 'agent', structure: 'h2', text: '', action: 'cleared-degraded' },
      { check: 'drift', structure: 'c1', text: '', action: 'resent' },
    ] as never);
    expect(emitted(m)).toMatchObject({ [METRIC.agentsDegraded]: 1, [METRIC.ordersResent]: 1 });
  });

  it('reports the orders waiting on the dead-letter queues when the sweep counted them, and nothing when not', () => {
    const counted = new Metrics({ namespace: 'test', serviceName: 'sanity' });
    sanityMetrics(counted, [], 3);
    expect(emitted(counted)).toMatchObject({ [METRIC.ordersDeadLettered]: 3 });
    const zero = new Metrics({ namespace: 'test', serviceName: 'sanity' });
    sanityMetrics(zero, [], 0);
    expect(emitted(zero)).toMatchObject({ [METRIC.ordersDeadLettered]: 0 });
    // an invocation of several rounds reports the last count (a gauge), and every round's findings
    const rounds = new Metrics({ namespace: 'test', serviceName: 'sanity' });
    sanityRoundsMetrics(rounds, [
      { findings: [], deadLettered: 5 },
      { findings: [{ check: 'lagging', structure: 'c1', text: '', action: 'resent' }], deadLettered: null },
      { findings: [], deadLettered: 2 },
    ]);
    expect(emitted(rounds)).toMatchObject({ [METRIC.ordersDeadLettered]: 2, [METRIC.ordersResent]: 1 });
    const notCounted = new Metrics({ namespace: 'test', serviceName: 'sanity' });
    sanityMetrics(notCounted, []);
    expect(emitted(notCounted)).not.toHaveProperty(METRIC.ordersDeadLettered);
  });
});

describe('the invocation deadline (AbortSignal)', () => {
  const ctx = (leftMs: number) => ({ awsRequestId: 'r1', getRemainingTimeInMillis: () => leftMs });

  it('aborts the handler’s signal the reserve before Lambda’s deadline, not after it', async () => {
    const seen: { abortedAt: number | null } = { abortedAt: null };
    const h = lambdaHandler(
      'test',
      async (_e: unknown, _c, { signal }) => {
        const t0 = Date.now();
        await new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => {
            seen.abortedAt = Date.now() - t0;
            resolve();
          });
        });
        return (signal.reason as Error).name;
      },
      { log: silentLogger, reserveMs: 150 },
    );
    // 400 ms left, 150 ms kept back: aborted ≈ 250 ms in
    const reason = await h({}, ctx(400) as never);
    expect(reason).toBe('TimeoutError');
    expect(seen.abortedAt).toBeGreaterThanOrEqual(200);
    expect(seen.abortedAt).toBeLessThan(400);
  });

  it('is aborted at once when less than the reserve is left', async () => {
    const h = lambdaHandler('test', async (_e: unknown, _c, { signal }) => signal.aborted, {
      log: silentLogger,
      reserveMs: 1000,
    });
    expect(await h({}, ctx(500) as never)).toBe(true);
    expect(await h({}, ctx(60_000) as never)).toBe(false);
  });
});

describe('failed invocations, classified', () => {
  const aws = (name: string, status: number, fault: 'client' | 'server' = 'client') =>
    Object.assign(new Error(name), { name, $fault: fault, $metadata: { httpStatusCode: status } });
  const net = (code: string) => Object.assign(new Error(code), { code });

  it.each([
    ['a ValidationError', new ValidationError('body', [{ path: 'cpu', message: 'bad' }]), 'input'],
    ['a NotFoundError', new NotFoundError('no such container'), 'input'],
    ['a lost conditional write (ours)', new StaleStateError('newer', null), 'conflict'],
    ['ConditionalCheckFailedException', aws('ConditionalCheckFailedException', 400), 'conflict'],
    [
      'ProvisionedThroughputExceededException',
      aws('ProvisionedThroughputExceededException', 400),
      'throttled',
    ],
    ['an HTTP 429', aws('SomethingNew', 429), 'throttled'],
    ['an abort at the deadline', new DOMException('late', 'TimeoutError'), 'timeout'],
    ['ETIMEDOUT', net('ETIMEDOUT'), 'timeout'],
    ['ECONNREFUSED', net('ECONNREFUSED'), 'dependency'],
    ['an AWS 5xx', aws('InternalServerError', 500, 'server'), 'dependency'],
    ['a cause that is a dependency', new Error('tick failed', { cause: net('ECONNRESET') }), 'dependency'],
    ['a TypeError', new TypeError('x is undefined'), 'bug'],
    ['a thrown string', 'boom', 'bug'],
  ] as const)('%s → %s', (_what, err, cls) => {
    expect(classifyError(err)).toBe(cls);
  });

  it('logs one classified line, publishes HandlerErrors by class, and rethrows', async () => {
    const lines: string[] = [];
    const log = createLogger('test', {
      destination: new Writable({
        write(chunk, _enc, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    });
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      const h = lambdaHandler(
        'test',
        async () => {
          throw Object.assign(new Error('rate exceeded'), { name: 'ThrottlingException' });
        },
        { log },
      );
      await expect(
        h({}, { awsRequestId: 'r2', getRemainingTimeInMillis: () => 10_000 } as never),
      ).rejects.toThrow('rate exceeded');
    } finally {
      process.stdout.write = write;
    }
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      errorClass: 'throttled',
      requestId: 'r2',
      msg: 'invocation failed (throttled)',
    });
    const emf = out
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.includes(METRIC.handlerErrors))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(emf).toHaveLength(1);
    expect(emf[0]).toMatchObject({ ErrorClass: 'throttled', [METRIC.handlerErrors]: 1 });
  });
});

describe('a handler invoked without a Lambda context deadline', () => {
  it('runs with a signal that never aborts (a direct invoke or a test passing {})', async () => {
    const h = lambdaHandler('test', async (_e: unknown, _c, { signal }) => signal.aborted, {
      log: silentLogger,
    });
    expect(await h({}, {} as never)).toBe(false);
  });
});
