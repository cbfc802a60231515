import { describe, expect, it } from '@jest/globals';
import { usageWindow } from '../../../../core/ports/metrics-source.ts';

describe('usageWindow', () => {
  it('ends WINDOW_DELAY before now and lasts WINDOW_TIMELAPSE, in whole seconds', () => {
    // now 1795835100.9 s, timelapse 5, delay 2 → [1795835100 − 7, 1795835100 − 2]
    expect(usageWindow(1_795_835_100_900, 5, 2)).toEqual({ startS: 1_795_835_093, endS: 1_795_835_098 });
  });
});
