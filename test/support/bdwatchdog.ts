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

export async function putBdwatchdog(opentsdbUrl: string, samples: readonly ProcessSample[]): Promise<void> {
  for (let i = 0; i < samples.length; i += 5000) {
    const points = samples.slice(i, i + 5000).map((s) => ({
      metric: s.metric,
      timestamp: String(s.t),
      value: typeof s.value === 'number' ? s.value.toFixed(2) : s.value,
      tags: { host: s.container, pid: s.pid ?? '1', command: s.command ?? 'java' },
    }));
    const res = await fetch(`${opentsdbUrl}/api/put`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify(points)),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`/api/put: HTTP ${res.status} ${text}`);
  }
}

export async function flushVictoria(promUrl: string): Promise<void> {
  const res = await fetch(`${promUrl}/internal/force_flush`);
  await res.body?.cancel();
}
