import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from '@jest/globals';
import { gzipBatches } from '../../../adapters/opentsdb-put.ts';

const points = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    metric: 'structure.cpu.current',
    timestamp: 1_795_835_100_000 + i,
    value: i * 7.25,
    tags: { structure: `c-${i.toString(16).padStart(30, '7')}` },
  }));

describe('gzipBatches', () => {
  it('cuts points into gzip bodies of at most maxBytes, every point once and in order', () => {
    const all = points(3000);
    const batches = gzipBatches(all, 500, 4000);
    expect(batches.every((b) => b.body.byteLength <= 4000)).toBe(true);
    expect(batches.flatMap((b) => JSON.parse(gunzipSync(b.body).toString()))).toEqual(all);
    expect(batches.length).toBeGreaterThan(6); // 500-point cuts did not fit: some were halved
  });

  it('keeps a single point that alone is over the limit (the TSD then says why)', () => {
    const [b] = gzipBatches(points(1), 500, 10);
    expect(b?.points).toHaveLength(1);
  });
});
