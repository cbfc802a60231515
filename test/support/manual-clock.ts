import type { Clock } from '../../core/ports/clock.ts';

/**
 * A clock that moves only when told. `sleep` resolves when `advance` passes its
 * wake time (or at once when its signal aborts, like the system clock).
 */
export class ManualClock implements Clock {
  private nowMs: number;
  private sleepers: { wakeAt: number; resolve: () => void }[] = [];

  constructor(startMs = 1_700_000_000_000) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const entry = { wakeAt: this.nowMs + Math.max(0, ms), resolve };
      this.sleepers.push(entry);
      signal?.addEventListener(
        'abort',
        () => {
          this.sleepers = this.sleepers.filter((s) => s !== entry);
          resolve();
        },
        { once: true },
      );
    });
  }

  /** Number of pending sleeps. */
  get waiting(): number {
    return this.sleepers.length;
  }

  /** Move time forward by `ms`, waking sleepers in order and letting their continuations run. */
  async advance(ms: number): Promise<void> {
    const target = this.nowMs + ms;
    for (;;) {
      await flush();
      const next = this.sleepers.filter((s) => s.wakeAt <= target).sort((a, b) => a.wakeAt - b.wakeAt)[0];
      if (next === undefined) break;
      this.nowMs = Math.max(this.nowMs, next.wakeAt);
      this.sleepers = this.sleepers.filter((s) => s !== next);
      next.resolve();
    }
    this.nowMs = target;
    await flush();
  }
}

/** Let pending promise continuations run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
