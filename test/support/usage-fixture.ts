/**
 * A known BDWatchdog data set around a fixed window, for the metrics adapter
 * tests: per container and process, one point every 5 s for a minute; only
 * the point inside the window carries the expected value, every other point
 * is 5000 so a window that leaks shows at once.
 */
import type { UsageWindow } from '../../core/ports/metrics-source.ts';
import { flushVictoria, type ProcessSample, putBdwatchdog } from './bdwatchdog.ts';
import { uniqueName, victoriaOpentsdbUrl, victoriaPromUrl } from './env.ts';

export interface UsageFixture {
  window: UsageWindow;
  /** ct-a: cpu (150 + 30) + 10 = 190, mem 800 + 200 = 1000, net 3 + 4 = 7 */
  a: string;
  /** ct-b: cpu user 50 only → 50; no mem points → null */
  b: string;
  /** never written */
  never: string;
  /** negative cpu value → rejected */
  bad: string;
}

/** Writes the fixture through BDWatchdog's put into VictoriaMetrics, or into `opentsdbUrl` (the stand-in). */
export async function writeUsageFixture(opentsdbUrl?: string): Promise<UsageFixture> {
  const base = Math.floor(Date.now() / 1000 / 5) * 5 - 60;
  const window = { startS: base - 12, endS: base - 7 }; // (start, end] holds t = base − 10 only
  const f: UsageFixture = {
    window,
    a: uniqueName('ct-a'),
    b: uniqueName('ct-b'),
    never: uniqueName('ct-never'),
    bad: uniqueName('ct-bad'),
  };
  const series: [string, string, string, number][] = [
    [f.a, 'proc.cpu.user', '1', 150],
    [f.a, 'proc.cpu.user', '2', 30],
    [f.a, 'proc.cpu.kernel', '1', 10],
    [f.a, 'proc.mem.resident', '1', 800],
    [f.a, 'proc.mem.resident', '2', 200],
    [f.a, 'proc.net.tcp.in.mb', '1', 3],
    [f.a, 'proc.net.tcp.out.mb', '1', 4],
    [f.b, 'proc.cpu.user', '7', 50],
    [f.bad, 'proc.cpu.user', '1', -5],
  ];
  const samples: ProcessSample[] = [];
  for (let t = base - 60; t <= base; t += 5) {
    for (const [container, metric, pid, value] of series) {
      samples.push({ container, metric, pid, t, value: t === base - 10 ? value : value < 0 ? value : 5000 });
    }
  }
  if (opentsdbUrl !== undefined) {
    await putBdwatchdog(opentsdbUrl, samples);
    return f;
  }
  await putBdwatchdog(victoriaOpentsdbUrl(), samples);
  await flushVictoria(victoriaPromUrl());
  return f;
}
