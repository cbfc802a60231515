import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { ScaleEvent } from '../../../../../core/contracts/event.ts';
import {
  consumeEvents,
  countEvents,
  eventName,
  expireEvents,
} from '../../../../../core/policy/guardian/events.ts';

const ev = (direction: 'up' | 'down', timestamp: number, resource: 'cpu' | 'mem' = 'cpu'): ScaleEvent => ({
  structure: 'c0',
  resource,
  direction,
  rule: `${resource}_${direction}`,
  timestamp,
});

describe('events', () => {
  it('expire at EVENT_TIMEOUT', () => {
    const now = 100_000;
    const events = [ev('up', now - 60_000), ev('up', now - 59_999), ev('down', now)];
    expect(expireEvents(events, now, 60)).toEqual([events[1], events[2]]); // 60 000 ms old is gone
  });
  it('count per resource and direction', () => {
    expect(countEvents([ev('up', 1), ev('up', 2), ev('down', 3), ev('up', 4, 'mem')], 'cpu')).toEqual({
      up: 2,
      down: 1,
    });
  });
  it('consume the oldest of the requested direction only', () => {
    const events = [ev('up', 30), ev('down', 5), ev('up', 10), ev('up', 20)];
    expect(consumeEvents(events, 'cpu', 'up', 2)).toEqual([ev('up', 30), ev('down', 5)]);
  });
  it('names events like the original', () => {
    expect(eventName('disk_read', 'up')).toBe('Disk_readBottleneck');
    expect(eventName('cpu', 'down')).toBe('CpuUnderuse');
  });
  it('never counts events older than the timeout (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 200_000 })),
        fc.integer({ min: 5, max: 120 }),
        (ts, timeout) => {
          const now = 200_000;
          const kept = expireEvents(
            ts.map((t) => ev('up', t)),
            now,
            timeout,
          );
          for (const e of kept) expect(now - e.timestamp).toBeLessThan(timeout * 1000);
          expect(countEvents(kept, 'cpu').up).toBe(ts.filter((t) => now - t < timeout * 1000).length);
        },
      ),
    );
  });
});
