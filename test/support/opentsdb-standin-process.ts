/**
 * The OpenTSDB 2.4 stand-in in a process of its own, as a TSD is a remote service: a benchmark's
 * tick then pays for its own work only. The parent loads points and reads the stand-in's counters
 * over the IPC channel; everything else goes over HTTP like to a real TSD.
 *
 * Run as a script, this file is the child.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import {
  type OpenTsdbStandIn,
  type StandInOptions,
  type StandInPoint,
  type StandInStats,
  startOpenTsdbStandIn,
} from './opentsdb-standin.ts';

type Request =
  | { id: number; op: 'load'; points: StandInPoint[] }
  | { id: number; op: 'stats' }
  | { id: number; op: 'reset' }
  | { id: number; op: 'knobs'; delayMs?: number; dropNext?: number };

export interface StandInProcess {
  url: string;
  pid: number;
  load(points: readonly StandInPoint[]): Promise<void>;
  stats(): Promise<StandInStats>;
  knobs(k: { delayMs?: number; dropNext?: number }): Promise<void>;
  stop(): Promise<void>;
}

export async function startOpenTsdbStandInProcess(opts: StandInOptions = {}): Promise<StandInProcess> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [JSON.stringify(opts)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [ready] = (await once(child, 'message')) as [{ url: string }];
  let next = 0;
  const pending = new Map<number, (v: unknown) => void>();
  child.on('message', (m: { id?: number; result?: unknown }) => {
    if (m.id === undefined) return;
    pending.get(m.id)?.(m.result);
    pending.delete(m.id);
  });
  const ask = (req: Omit<Request, 'id'>): Promise<unknown> =>
    new Promise((resolve) => {
      const id = ++next;
      pending.set(id, resolve);
      child.send({ ...req, id });
    });
  return {
    url: ready.url,
    pid: child.pid ?? 0,
    load: async (points) => {
      for (let i = 0; i < points.length; i += 20_000)
        await ask({ op: 'load', points: points.slice(i, i + 20_000) } as Omit<Request, 'id'>);
    },
    stats: async () => (await ask({ op: 'stats' })) as StandInStats,
    knobs: async (k) => {
      await ask({ op: 'knobs', ...k });
    },
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as StandInOptions;
  const tsd: OpenTsdbStandIn = await startOpenTsdbStandIn(opts);
  process.on('message', (req: Request) => {
    let result: unknown = null;
    if (req.op === 'load') tsd.load(req.points);
    else if (req.op === 'stats') result = { ...tsd.stats };
    else if (req.op === 'reset') tsd.resetStats();
    else if (req.op === 'knobs') {
      if (req.delayMs !== undefined) tsd.delayMs = req.delayMs;
      if (req.dropNext !== undefined) tsd.dropNext = req.dropNext;
    }
    process.send?.({ id: req.id, result });
  });
  process.on('SIGTERM', () => {
    void tsd.stop().then(() => process.exit(0));
  });
  process.send?.({ url: tsd.url });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) void main();
