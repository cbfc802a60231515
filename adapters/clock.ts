import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '../core/ports/clock.ts';

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    try {
      await delay(ms, undefined, signal === undefined ? {} : { signal });
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    }
  },
};
