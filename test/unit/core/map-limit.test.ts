import { describe, expect, it } from '@jest/globals';
import { mapLimit } from '../../../core/map-limit.ts';

describe('mapLimit', () => {
  it('keeps order and never exceeds the limit', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (x) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, x));
      running -= 1;
      return x * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
  });
  it('rejects with the first failure', async () => {
    await expect(
      mapLimit([1, 2], 2, async (x) => {
        if (x === 2) throw new Error('two');
        return x;
      }),
    ).rejects.toThrow('two');
  });
  it('runs every item and rejects only after all have settled, with the earliest failure', async () => {
    const done: number[] = [];
    const err = await mapLimit([1, 2, 3, 4, 5], 2, async (x) => {
      await new Promise((r) => setTimeout(r, x * 5));
      if (x === 1 || x === 3) throw new Error(`fail ${x}`);
      done.push(x);
      return x;
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('fail 1');
    // 2, 4 and 5 ran after 1 failed, and had finished when the call rejected.
    expect(done).toEqual([2, 4, 5]);
  });
});
