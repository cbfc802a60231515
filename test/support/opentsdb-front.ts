/**
 * A test-side stand-in for OpenTSDB's `/api/query`, answered from
 * VictoriaMetrics' data, so the OpenTSDB adapter's own code runs against real
 * points. It reproduces what the adapter must cope with: grouping by a
 * `a|b|c` tag value, dps keyed by bucket start, and the 400 "No such name for
 * 'tagv'" for any tag value never written (and for unknown metrics).
 * `nextAnswers` injects raw answers (malformed bodies, 500s) for fault tests.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OpenTsdbFront {
  url: string;
  /** Queries received. */
  queries: number;
  /** Raw answers served before the real ones, first in first out. */
  nextAnswers: { status: number; body: string }[];
  stop(): Promise<void>;
}

interface SubQuery {
  metric: string;
  tags: Record<string, string>;
  downsample?: string;
}

async function labelValues(promUrl: string, label: string): Promise<Set<string>> {
  const res = await fetch(`${promUrl}/api/v1/label/${label}/values`);
  const json = (await res.json()) as { data: string[] };
  return new Set(json.data);
}

function tsdbError(message: string) {
  return { status: 400, body: JSON.stringify({ error: { code: 400, message, details: message } }) };
}

async function answer(promUrl: string, body: string): Promise<{ status: number; body: string }> {
  const q = JSON.parse(body) as { start: number; end: number; queries: SubQuery[] };
  const names = await labelValues(promUrl, '__name__');
  const out: unknown[] = [];
  for (const sub of q.queries) {
    if (!names.has(sub.metric)) return tsdbError(`No such name for 'metrics': '${sub.metric}'`);
    const [key, values] = Object.entries(sub.tags)[0] as [string, string];
    const known = await labelValues(promUrl, key);
    const unknown = values.split('|').find((v) => !known.has(v));
    if (unknown !== undefined) return tsdbError(`No such name for 'tagv': '${unknown}'`);
    const bucket = Number.parseInt(sub.downsample ?? '5s', 10);
    const re = values.replace(/\./g, '\\.');
    const form = new URLSearchParams({
      query: `sum by (${key}) (avg_over_time({__name__="${sub.metric}",${key}=~"${re}"}[${bucket}s]))`,
      start: String(q.start + bucket),
      end: String(q.end),
      step: `${bucket}s`,
    });
    const res = await fetch(`${promUrl}/api/v1/query_range`, { method: 'POST', body: form });
    const json = (await res.json()) as {
      data: { result: { metric: Record<string, string>; values: [number, string][] }[] };
    };
    for (const s of json.data.result) {
      const dps: Record<string, number> = {};
      for (const [t, v] of s.values) dps[String(t - bucket)] = Number(v);
      out.push({
        metric: sub.metric,
        tags: { [key]: s.metric[key] },
        aggregateTags: ['pid', 'command'],
        dps,
      });
    }
  }
  return { status: 200, body: JSON.stringify(out) };
}

export async function startOpenTsdbFront(promUrl: string): Promise<OpenTsdbFront> {
  const front: OpenTsdbFront = { url: '', queries: 0, nextAnswers: [], stop: async () => undefined };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString();
    });
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/api/query') {
        res.writeHead(404).end();
        return;
      }
      front.queries += 1;
      const injected = front.nextAnswers.shift();
      const reply = injected ? Promise.resolve(injected) : answer(promUrl, body);
      reply.then(
        (a) => res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  front.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  front.stop = () => new Promise((resolve) => server.close(() => resolve()));
  return front;
}
