/**
 * Test data in BDWatchdog's own wire format: per-process points with quoted
 * timestamp and value, tags host/pid/command, gzip-posted to `/api/put`.
 */
import { gzipSync } from 'node:zlib';

export interface ProcessSample {
  container: string;
  metric: string;
  /** Epoch seconds. */
  t: number;
  value: number | string;
  pid?: string;
  command?: string;
}

/**
 * Posts samples the way BDWatchdog's sender does (gzip, quoted numbers), in bodies that stay under
 * OpenTSDB's 8,192-byte limit on the body as sent (test/support/opentsdb-standin.ts).
 */
export async function putBdwatchdog(opentsdbUrl: string, samples: readonly ProcessSample[]): Promise<void> {
  const points = samples.map((s) => ({
    metric: s.metric,
    timestamp: String(s.t),
    value: typeof s.value === 'number' ? s.value.toFixed(2) : s.value,
    tags: { host: s.container, pid: s.pid ?? '1', command: s.command ?? 'java' },
  }));
  let i = 0;
  let n = 500;
  while (i < points.length) {
    const body = gzipSync(JSON.stringify(points.slice(i, i + n)));
    if (body.byteLength > 8000 && n > 1) {
      n = Math.max(1, Math.floor(n / 2));
      continue;
    }
    const res = await fetch(`${opentsdbUrl}/api/put`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body,
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`/api/put: HTTP ${res.status} ${text}`);
    i += n;
  }
}

export async function flushVictoria(promUrl: string): Promise<void> {
  const res = await fetch(`${promUrl}/internal/force_flush`);
  await res.body?.cancel();
}
