import { describe, expect, it } from '@jest/globals';
import { OpenTsdbPutSink } from '../../../adapters/metrics/opentsdb-put.ts';
import { main, type UtilisationRow } from '../../../scripts/report.ts';
import { uniqueName, victoriaOpentsdbUrl, victoriaPromUrl } from '../../support/env.ts';

describe('report command', () => {
  it('prints the utilisation of recorded series as JSON and as a table', async () => {
    // mem of one container, snapshots every 5 s for 20 s:
    // allocation 1024, 1024, 2048, 2048 (+ closing 2048) → ∫ = (1024 + 1024 + 2048 + 2048) × 5 = 30 720 MiB·s
    // usage      512,  768, 1024, 1536                    → ∫ = (512 + 768 + 1024 + 1536) × 5 = 19 200 MiB·s
    // utilisation 19 200 / 30 720 = 0.625; mean slack (30 720 − 19 200) / 20 = 576 MiB
    const structure = uniqueName('c');
    const t0 = Math.floor((Date.now() - 10 * 60_000) / 1000) * 1000;
    const alloc = [1024, 1024, 2048, 2048, 2048];
    const used = [512, 768, 1024, 1536, 1536];
    await new OpenTsdbPutSink(victoriaOpentsdbUrl()).put(
      alloc.flatMap((a, i) => [
        { metric: 'structure.mem.current', timestamp: t0 + i * 5_000, value: a, tags: { structure } },
        {
          metric: 'structure.mem.usage',
          timestamp: t0 + i * 5_000,
          value: used[i] as number,
          tags: { structure },
        },
      ]),
    );
    await fetch(`${victoriaPromUrl()}/internal/force_flush`);
    const printed: string[] = [];
    const args = [
      '--url',
      victoriaPromUrl(),
      '--from',
      new Date(t0).toISOString(),
      '--to',
      String(t0 + 20_000),
      '--structure',
      structure,
      '--resource',
      'mem',
    ];
    await main([...args, '--json'], (s) => printed.push(s));
    const rows = JSON.parse(printed[0] as string) as UtilisationRow[];
    expect(rows).toEqual([
      expect.objectContaining({
        structure,
        resource: 'mem',
        coveredS: 20,
        allocationIntegral: 30_720,
        usageIntegral: 19_200,
        utilisation: 0.625,
        meanSlack: 576,
        snapshots: 5,
      }),
    ]);
    await main(args, (s) => printed.push(s));
    expect(printed[1]).toMatch(
      new RegExp(`${structure}\\s+mem\\s+20\\s+1536\\.0\\s+960\\.0\\s+62\\.5 %\\s+576\\.0`),
    );
  });
});
