/**
 * Reaction-time measurement: start a load step in a container, poll a limit
 * (e.g. the cgroup's cpu.cfs_quota_us) until it changes the expected way, and
 * record the delay; then stop the load and time the scale-down the same way.
 * Reusable by the benchmark and the end-to-end test; the clock and the reader
 * are injected, so the timing logic is unit-tested without a host.
 *
 *   const read = cgroupFileReader('/sys/fs/cgroup', 'lxc.payload.demo1', 'cpu', 'cpu.cfs_quota_us');
 *   const r = await measureSteps({ container, read, steps: 10, timeoutMs: 60_000, signal });
 *   // r.upMs, r.downMs: delays of the steps that completed; r.failures: the ones that timed out
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock } from '../adapters/clock.ts';
import type { Clock } from '../core/ports/clock.ts';
import type { Phase } from './containers.ts';

export type Reaction =
  | { ok: true; delayMs: number; before: number | null; after: number | null; polls: number }
  | { ok: false; reason: 'timeout' | 'aborted'; before: number | null; last: number | null; polls: number };

/** Reads a numeric cgroup v1 file; null when absent (container gone) or not a number. */
export function cgroupFileReader(
  cgroupRoot: string,
  cgroupPath: string,
  controller: string,
  file: string,
): () => Promise<number | null> {
  const path = join(cgroupRoot, controller, cgroupPath, file);
  return async () => {
    const text = await readFile(path, 'utf8').catch(() => null);
    const n = text === null ? Number.NaN : Number(text.trim());
    return Number.isFinite(n) ? n : null;
  };
}

/** cfs quota as shares (100 = one core); -1 (unlimited) becomes Infinity. */
export function quotaToShares(quotaUs: number | null, periodUs = 100_000): number | null {
  if (quotaUs === null) return null;
  return quotaUs < 0 ? Number.POSITIVE_INFINITY : (quotaUs / periodUs) * 100;
}

/**
 * Runs `trigger`, then polls `read` every `pollMs` until `reached(before, now)`.
 * The delay is measured from just before the trigger to the first poll that saw
 * the change (so it is at most one poll interval late).
 */
export async function measureReaction(opts: {
  trigger: () => Promise<void>;
  read: () => Promise<number | null>;
  reached: (before: number | null, now: number | null) => boolean;
  timeoutMs: number;
  pollMs?: number;
  clock?: Clock;
  signal?: AbortSignal;
}): Promise<Reaction> {
  const clock = opts.clock ?? systemClock;
  const pollMs = opts.pollMs ?? 100;
  const before = await opts.read();
  const start = clock.now();
  await opts.trigger();
  let polls = 0;
  let last = before;
  for (;;) {
    if (opts.signal?.aborted) return { ok: false, reason: 'aborted', before, last, polls };
    last = await opts.read();
    polls += 1;
    if (opts.reached(before, last))
      return { ok: true, delayMs: clock.now() - start, before, after: last, polls };
    if (clock.now() - start >= opts.timeoutMs) return { ok: false, reason: 'timeout', before, last, polls };
    await clock.sleep(pollMs, opts.signal);
  }
}

export interface StepResults {
  /** Delays (ms) from load start to a higher limit, for the steps that reacted. */
  upMs: number[];
  /** Delays (ms) from load stop to a lower limit. */
  downMs: number[];
  failures: { step: number; direction: 'up' | 'down'; reason: 'timeout' | 'aborted' }[];
}

/**
 * `steps` times: CPU step on (limit must rise), then off (limit must fall).
 * A step that times out is recorded as a failure and the next one starts from
 * wherever the limit is; an abort stops at once with the container idle.
 */
export async function measureSteps(opts: {
  container: { setPhase(phase: Phase): Promise<void> };
  read: () => Promise<number | null>;
  steps: number;
  timeoutMs: number;
  load?: Phase;
  pollMs?: number;
  /** Pause between a scale-down and the next step, ms. */
  settleMs?: number;
  /**
   * A further pause before each step's load, uniform in [0, jitterMs): set it to the
   * tick period so the loads start at every phase of the control tick, as real load
   * does — without it every step starts at the same phase (settle after a tick) and
   * the delays measure that one phase only.
   */
  jitterMs?: number;
  /** Uniform in [0, 1) (default Math.random). */
  random?: () => number;
  clock?: Clock;
  signal?: AbortSignal;
  onResult?: (step: number, direction: 'up' | 'down', r: Reaction) => void;
}): Promise<StepResults> {
  const clock = opts.clock ?? systemClock;
  const load = opts.load ?? { kind: 'cpu', workers: 1 };
  const out: StepResults = { upMs: [], downMs: [], failures: [] };
  const rose = (b: number | null, n: number | null) => b !== null && n !== null && n > b;
  const fell = (b: number | null, n: number | null) => b !== null && n !== null && n < b;
  const common = {
    read: opts.read,
    timeoutMs: opts.timeoutMs,
    clock,
    ...(opts.pollMs === undefined ? {} : { pollMs: opts.pollMs }),
    ...(opts.signal === undefined ? {} : { signal: opts.signal }),
  };
  try {
    for (let step = 0; step < opts.steps && !opts.signal?.aborted; step++) {
      if (opts.jitterMs !== undefined && opts.jitterMs > 0)
        await clock.sleep(Math.floor((opts.random ?? Math.random)() * opts.jitterMs), opts.signal);
      for (const [direction, phase, reached] of [
        ['up', load, rose],
        ['down', { kind: 'idle' }, fell],
      ] as const) {
        const r = await measureReaction({
          ...common,
          trigger: () => opts.container.setPhase(phase),
          reached,
        });
        opts.onResult?.(step, direction, r);
        if (r.ok) (direction === 'up' ? out.upMs : out.downMs).push(r.delayMs);
        else out.failures.push({ step, direction, reason: r.reason });
        if (opts.signal?.aborted) break;
      }
      if (opts.settleMs !== undefined) await clock.sleep(opts.settleMs, opts.signal);
    }
  } finally {
    await opts.container.setPhase({ kind: 'idle' }).catch(() => undefined);
  }
  return out;
}
