/**
 * Serves the dashboard on 127.0.0.1: the static page (dashboard/public), the
 * chart library from node_modules (uPlot's browser build), and
 * `GET /api/dashboard?minutes=N` → the read model's JSON. The page itself only
 * needs that one JSON endpoint, so it can also be hosted as static files
 * reading the HTTP API (`index.html?api=https://…/api/dashboard`).
 *
 *   const d = await startDashboardServer({ deps: { state: tableClient, series: prometheusSeries(vmUrl) } });
 *   console.log(d.url); … await d.close();
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOOPBACK } from '../local/emulators.ts';
import { dashboardView, type ReadModelDeps } from './read-model.ts';

const here = dirname(fileURLToPath(import.meta.url));
const PUBLIC_DIR = join(here, 'public');
const UPLOT_DIR = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
const VENDOR: Record<string, string> = {
  '/vendor/uPlot.iife.min.js': join(UPLOT_DIR, 'uPlot.iife.min.js'),
  '/vendor/uPlot.min.css': join(UPLOT_DIR, 'uPlot.min.css'),
};
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export const DEFAULT_WINDOW_MINUTES = 10;
export const MAX_WINDOW_MINUTES = 24 * 60;

export interface DashboardServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startDashboardServer(opts: {
  deps: ReadModelDeps;
  port?: number;
  now?: () => number;
  /** Seconds between plotted points (default: window / 240, at least 1). */
  stepS?: number;
}): Promise<DashboardServer> {
  const now = opts.now ?? Date.now;
  const server: Server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (req.method !== 'GET') {
        res.writeHead(405).end();
        return;
      }
      if (url.pathname === '/api/dashboard') {
        const minutes = Number(url.searchParams.get('minutes') ?? DEFAULT_WINDOW_MINUTES);
        if (!Number.isFinite(minutes) || minutes <= 0 || minutes > MAX_WINDOW_MINUTES) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: `minutes must be in (0, ${MAX_WINDOW_MINUTES}]` }));
          return;
        }
        const toMs = now();
        const fromMs = toMs - minutes * 60_000;
        const stepS = opts.stepS ?? Math.max(1, Math.round((minutes * 60) / 240));
        const view = await dashboardView(opts.deps, { fromMs, toMs, stepS });
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify(view));
        return;
      }
      const file =
        VENDOR[url.pathname] ??
        join(
          PUBLIC_DIR,
          normalize(url.pathname === '/' ? '/index.html' : url.pathname).replace(/^(\.\.[/\\])+/, ''),
        );
      if (!file.startsWith(PUBLIC_DIR) && !Object.values(VENDOR).includes(file)) {
        res.writeHead(404).end();
        return;
      }
      const content = await readFile(file).catch(() => null);
      if (content === null) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(content);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: (err as Error).message }));
    }
  });
  server.listen(opts.port ?? 0, LOOPBACK);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('dashboard server has no port');
  return {
    url: `http://${LOOPBACK}:${addr.port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
