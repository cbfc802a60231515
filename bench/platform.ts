/**
 * `npm run bench -- platform`: how long the local platform takes to come up.
 * - start_to_ready_ms: `npm start` spawned → "ready" printed (dynalite + fauxqs + VictoriaMetrics,
 *   bootstrapped), then SIGINT; median of RUNS runs.
 * - bootstrap_ms: bootstrap of a fresh table on in-process dynalite (create table, 20 rules,
 *   5 configs); bootstrap_again_ms: the same bootstrap run again (everything kept).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createDynamoDocumentClient } from '../adapters/aws.ts';
import { bootstrap } from '../local/bootstrap.ts';
import { startDynalite } from '../local/emulators.ts';
import { type Emit, median } from './figure.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = 5;

async function startToReady(args: string[]): Promise<number> {
  const t0 = performance.now();
  const child = spawn('npm', ['start', '--', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let readyAt: number | null = null;
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (readyAt === null && out.includes('ready in ')) {
        readyAt = performance.now();
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`npm start exited ${code} before ready:\n${out}`)));
  });
  await ready;
  const exited = once(child, 'exit');
  child.kill('SIGINT');
  await exited;
  return (readyAt ?? performance.now()) - t0;
}

export async function run(emit: Emit): Promise<void> {
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) samples.push(await startToReady([]));
  emit({
    name: 'platform.start_to_ready_ms',
    value: Math.round(median(samples)),
    unit: 'ms',
    runs: RUNS,
    min: Math.round(Math.min(...samples)),
    max: Math.round(Math.max(...samples)),
  });

  const db = await startDynalite();
  const dynamo = createDynamoDocumentClient({
    endpoint: db.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    const first: number[] = [];
    const again: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const tableName = `sc-bench-${i}`;
      let t = performance.now();
      await bootstrap({ dynamo }, { tableName });
      first.push(performance.now() - t);
      t = performance.now();
      await bootstrap({ dynamo }, { tableName });
      again.push(performance.now() - t);
    }
    emit({ name: 'platform.bootstrap_ms', value: Math.round(median(first)), unit: 'ms', runs: RUNS });
    emit({ name: 'platform.bootstrap_again_ms', value: Math.round(median(again)), unit: 'ms', runs: RUNS });
  } finally {
    dynamo.destroy();
    await db.stop();
  }
}
