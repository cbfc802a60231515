import { describe, expect, it } from '@jest/globals';
import { missedOrDouble, seeded } from '../../../bench/shard-sim.ts';
import { parseChainMessage } from '../../../functions/guardian/chain.ts';

describe('missedOrDouble (the scale bench’s exactly-once check)', () => {
  const W = 5000;
  it('counts a container decided twice, one not decided, and one not expected, per window', () => {
    const decisions = new Map([
      [
        0,
        new Map([
          ['a', 1],
          ['b', 1],
        ]),
      ],
      [
        W,
        new Map([
          ['a', 2],
          ['x', 1],
        ]),
      ], // a twice, b missed, x not expected
    ]);
    const out = missedOrDouble(decisions, () => new Set(['a', 'b']), 0, W, W);
    expect(out).toEqual({
      missed: 1,
      double: 1,
      unexpected: 1,
      examples: [`a decided 2× at ${W}`, `b missed at ${W}`, `x not expected at ${W}`],
    });
  });
  it('counts a window with no decisions at all as every container missed', () => {
    expect(missedOrDouble(new Map(), () => new Set(['a', 'b']), 0, 2 * W, W).missed).toBe(6); // 3 windows × 2
  });
  it('seeded draws repeat for a seed and differ between seeds', () => {
    const a = seeded(1);
    const b = seeded(1);
    const c = seeded(2);
    const xs = [a(), a(), a()];
    expect([b(), b(), b()]).toEqual(xs);
    expect(c()).not.toBe(xs[0]);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });
});

describe('clock messages of shards', () => {
  it('carry their generation, shard and count; a shard id over 255 is refused', () => {
    expect(parseChainMessage('{"chain":"c","at":5000,"gen":2,"shard":7,"n":4980}')).toEqual({
      chain: 'c',
      at: 5000,
      gen: 2,
      shard: 7,
      n: 4980,
    });
    expect(parseChainMessage('{"chain":"c","at":5000}')).toEqual({ chain: 'c', at: 5000 }); // unsharded as before
    expect(() => parseChainMessage('{"chain":"c","at":5000,"shard":256}')).toThrow(/shard/);
    expect(() => parseChainMessage('{"chain":"c","at":5000,"gen":-1}')).toThrow(/gen/);
  });
});
