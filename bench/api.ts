/**
 * The orchestration API on dynalite + fauxqs (in-process), through the router
 * exactly as the Lambda runs it: latency of subscribe / unsubscribe / status,
 * concurrent subscriptions to one host, and the `sc` binary's start-up.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoDocumentClient, createSqsClient } from '../adapters/aws.ts';
import { tableDefinition } from '../adapters/dynamodb/table.ts';
import { silentLogger } from '../adapters/logger.ts';
import type { HttpEvent } from '../functions/api/http.ts';
import { buildApi } from '../functions/api/wiring.ts';
import { startDynalite, startFauxqs } from '../local/emulators.ts';
import { type Emit, median, percentile } from './figure.ts';

const ROUNDS = 40;
const creds = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };

export async function run(emit: Emit): Promise<void> {
  const [dynalite, fauxqs] = await Promise.all([startDynalite(), startFauxqs()]);
  const doc = createDynamoDocumentClient({ ...creds, endpoint: dynalite.endpoint });
  const sqs = createSqsClient({ ...creds, endpoint: fauxqs.endpoint });
  try {
    await doc.send(new CreateTableCommand(tableDefinition('sc-bench')));
    const { api } = buildApi({
      env: { SC_TABLE: 'sc-bench', SC_QUEUE_PREFIX: 'bench-' },
      doc,
      sqs,
      logger: silentLogger,
    });
    const call = async (method: string, rawPath: string, body?: unknown) => {
      const event: HttpEvent = {
        rawPath,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        requestContext: { http: { method } },
      };
      const r = await api.handle(event);
      if (r.statusCode >= 400 && r.statusCode !== 409) throw new Error(`${method} ${rawPath}: ${r.body}`);
      return r.statusCode;
    };
    const timed = async (fn: () => Promise<unknown>) => {
      const t = performance.now();
      await fn();
      return performance.now() - t;
    };
    const container = (host: string, cpu: number) => ({
      host,
      resources: { cpu: { max: 400, min: 10, current: cpu }, mem: { max: 1024, min: 64, current: 128 } },
    });

    await call('PUT', '/hosts/big', { cpu: { cores: 64 }, memMiB: 1 << 20 });
    const sub: number[] = [];
    const unsub: number[] = [];
    for (let i = 0; i < ROUNDS; i++)
      sub.push(await timed(() => call('PUT', `/containers/b${i}`, container('big', 50))));
    const status = [];
    for (let i = 0; i < 10; i++) status.push(await timed(() => call('GET', '/status')));
    for (let i = 0; i < ROUNDS; i++) unsub.push(await timed(() => call('DELETE', `/containers/b${i}`)));
    emit({
      name: 'api.subscribe_ms',
      value: round(median(sub)),
      unit: 'ms',
      p90: round(percentile(sub, 90)),
      n: ROUNDS,
    });
    emit({
      name: 'api.unsubscribe_ms',
      value: round(median(unsub)),
      unit: 'ms',
      p90: round(percentile(unsub, 90)),
      n: ROUNDS,
    });
    emit({ name: 'api.status_ms', value: round(median(status)), unit: 'ms', containers: ROUNDS, n: 10 });

    // 16 subscriptions at once to one host with room for 8 (800 shares, 100 each).
    await call('PUT', '/hosts/race', { cpu: { cores: 8 }, memMiB: 65536 });
    const t = performance.now();
    const statuses = await Promise.all(
      Array.from({ length: 16 }, (_, i) => call('PUT', `/containers/r${i}`, container('race', 100))),
    );
    emit({
      name: 'api.concurrent_subscribe_16_ms',
      value: round(performance.now() - t),
      unit: 'ms',
      admitted: statuses.filter((s) => s === 201).length,
      room: 8,
    });
  } finally {
    doc.destroy();
    sqs.destroy();
    await Promise.all([dynalite.stop(), fauxqs.stop()]);
  }

  // `sc --help` started by the machine's Node (re-exec into Node 24) and by Node 24 directly.
  const sc = join(import.meta.dirname, '..', 'bin', 'sc.js');
  for (const [label, node] of [
    ['system_node', ['/usr/bin/node', '/usr/local/bin/node'].find(existsSync)],
    ['node24', process.execPath],
  ] as const) {
    if (node === undefined) continue;
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      execFileSync(node, [sc, '--help'], { stdio: 'ignore' });
      times.push(performance.now() - t);
    }
    emit({ name: `api.sc_help_${label}_ms`, value: round(median(times)), unit: 'ms', n: 5 });
  }
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
