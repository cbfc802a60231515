import type { ScaleEvent } from '../../contracts/event.ts';
import type { ScaleDirection } from '../../contracts/rule.ts';
import type { Resource } from '../../contracts/units.ts';

export interface EventCounts {
  up: number;
  down: number;
}

/** An event counts while it is younger than EVENT_TIMEOUT: now − timestamp < timeout. */
export function isLive(event: ScaleEvent, now: number, eventTimeoutS: number): boolean {
  return now - event.timestamp < eventTimeoutS * 1000;
}

/** Drop events that are EVENT_TIMEOUT old or older (and any from the future beyond one timeout). */
export function expireEvents(
  events: readonly ScaleEvent[],
  now: number,
  eventTimeoutS: number,
): ScaleEvent[] {
  return events.filter((e) => isLive(e, now, eventTimeoutS) && e.timestamp - now < eventTimeoutS * 1000);
}

export function countEvents(events: readonly ScaleEvent[], resource: Resource): EventCounts {
  let up = 0;
  let down = 0;
  for (const e of events) {
    if (e.resource !== resource) continue;
    if (e.direction === 'up') up += 1;
    else down += 1;
  }
  return { up, down };
}

/**
 * Remove `n` events of one resource and direction, oldest first. The direction
 * is the one the firing rule scales in: the kind that made it fire. (The
 * original picked the "dominant" name by U > D, so CpuRescaleUp at up 2 /
 * down 2 consumed down events, and it deleted in no particular order.)
 */
export function consumeEvents(
  events: readonly ScaleEvent[],
  resource: Resource,
  direction: ScaleDirection,
  n: number,
): ScaleEvent[] {
  const victims = events
    .map((e, i) => ({ e, i }))
    .filter(({ e }) => e.resource === resource && e.direction === direction)
    .sort((a, b) => a.e.timestamp - b.e.timestamp || a.i - b.i)
    .slice(0, n);
  if (victims.length === 0) return [...events];
  const gone = new Set(victims.map((v) => v.i));
  return events.filter((_, i) => !gone.has(i));
}

/** Title-cased event name as in the original: CpuBottleneck (up) / CpuUnderuse (down). */
export function eventName(resource: Resource, direction: ScaleDirection): string {
  return `${resource.charAt(0).toUpperCase()}${resource.slice(1)}${direction === 'up' ? 'Bottleneck' : 'Underuse'}`;
}
