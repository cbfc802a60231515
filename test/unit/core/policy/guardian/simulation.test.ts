import { describe, expect, it } from '@jest/globals';
import type { GuardState } from '../../../../../core/contracts/guard-state.ts';
import { defaultConfig, type GuardianConfig } from '../../../../../core/contracts/service-config.ts';
import { DEFAULT_RULES } from '../../../../../core/policy/default-rules.ts';
import { compileRules, decide } from '../../../../../core/policy/guardian/decide.ts';

/**
 * A closed loop without I/O: a cpu demand trace, the container's usage is
 * min(demand, current), every request is applied at once by adjusting current.
 * Window 5 s, EVENT_TIMEOUT 60 s, default rules (up: 1 event → +75;
 * down: 6 events → fit_to_usage), cpu max 400, min 50, boundary 10 % of max → margin 40.
 */

type Shaping = Partial<Pick<GuardianConfig, 'SCALE_UP_FIT' | 'SCALE_UP_GROWTH' | 'SCALE_DOWN_MIN'>>;
/** The original framework's amounts: the rule's +75 whatever the window shows, every scale-down ordered. */
const UNSHAPED: Shaping = { SCALE_UP_FIT: false, SCALE_UP_GROWTH: 0, SCALE_DOWN_MIN: 0 };

/**
 * Runs the loop for `ticks` ticks from current `from` (cpu max 400, min 50); returns [tick, amount, current after].
 * The Guardian remembers each window's usage for the next (decide's previousUsage) unless `remember` is false.
 * `partial[t]` = f: the demand steps from demand(t − 1) to demand(t) inside window t, which ran the new demand
 * for the fraction f of its time (its mean: f × the new usage + (1 − f) × the old).
 */
function simulate(
  demand: (tick: number) => number,
  shaping: Shaping,
  ticks = 40,
  from = 200,
  opts: { partial?: Record<number, number>; remember?: boolean } = {},
): [number, number, number][] {
  const rules = compileRules(DEFAULT_RULES);
  const config = { ...defaultConfig('guardian'), GUARDABLE_RESOURCES: ['cpu' as const], ...shaping };
  let current = from;
  let prev: GuardState | null = null;
  let prevUsage: number | null = null;
  const log: [number, number, number][] = [];
  for (let tick = 0; tick < ticks; tick++) {
    const f = opts.partial?.[tick];
    const usage =
      f === undefined
        ? Math.min(demand(tick), current)
        : f * Math.min(demand(tick), current) + (1 - f) * Math.min(demand(tick - 1), current);
    const out = decide({
      structure: {
        name: 'c0',
        type: 'container',
        resources: { cpu: { max: 400, min: 50, current, guard: true } },
      },
      previous: prev,
      usage: { cpu: usage },
      previousUsage: opts.remember === false ? null : { cpu: prevUsage },
      rules,
      config,
      now: tick * 5000,
    });
    for (const r of out.requests) {
      current += r.amount;
      log.push([tick, r.amount, current]);
    }
    prev = out.state;
    prevUsage = usage;
  }
  return log;
}

describe('guardian simulation', () => {
  const step = (tick: number) => (tick < 3 ? 120 : tick < 20 ? 390 : 60);

  it('follows a step up, a plateau and a drop with the original amounts (+75 per window)', () => {
    expect(simulate(step, UNSHAPED)).toEqual([
      // ticks 0–2: usage 120 at current 200: lower 120, not < lower → stable
      // tick 3: usage 200 > upper 160: one event → +75 at once
      [3, 75, 275],
      // tick 4: usage 275 > upper 235 → +75
      [4, 75, 350],
      // tick 5: usage 350 > upper 310 → +50, trimmed to max (350 + 75 > 400)
      [5, 50, 400],
      // plateau: usage 390 > upper 360 but current = max → no events
      // drop at tick 20: usage 60 < lower 320, six down events (20..25) → fit: 60 + 20 + 40 − 400 = −280,
      // trimmed so the new lower stays at min: 320 − 280 = 40 < 50 → −280 + 10 = −270
      [25, -270, 130],
      // current 130: upper 90, lower 50; usage 60 sits in the band → quiet
    ]);
  });

  it('reaches the plateau in one order at the defaults (usage at its allocation: the step doubles current)', () => {
    expect(simulate(step, {})).toEqual([
      // tick 3: usage 200 = current 200 ≥ 200 − 40/2: at its allocation, demand unseen →
      // max(75, ceil(200 × 1)) = 200, trimmed to max: 200 + 200 = 400 (three orders above, here one)
      [3, 200, 400],
      // plateau at max; drop at tick 20 → six down events → −270 as above (≥ 1 × margin 40: ordered)
      [25, -270, 130],
    ]);
  });

  it('fits a noisy window above upper into the band: one order, not an up and a down', () => {
    // demand 200 with one noisy window of 210 at tick 5; current 245: upper 205, lower 165
    const noisy = (tick: number) => (tick === 5 ? 210 : 200);
    expect(simulate(noisy, UNSHAPED, 40, 245)).toEqual([
      // 210 > upper 205 → +75 → 320: upper 280, lower 240, and usage 200 is now under lower
      [5, 75, 320],
      // six down events (ticks 6..11) → fit 200 + 20 + 40 − 320 = −60 → 260
      [11, -60, 260],
    ]);
    expect(simulate(noisy, {}, 40, 245)).toEqual([
      // 210 > upper 205 and 210 < 245 − 20 = 225: visible → fit 210 + 20 + 40 − 245 = 25 → 270:
      // upper 230, lower 190; usage 200 sits in the band → quiet
      [5, 25, 270],
    ]);
  });

  it('steps a load that starts mid-window in one order: an onset is not fitted to its partial mean', () => {
    // idle at 5 on current 100 (upper 60, lower 20; a scale-down would take lower under min 50: quiet);
    // a job of 150 starts at tick 3, 70 % through the window: mean 0.7 × 100 + 0.3 × 5 = 71.5, visible (< 80)
    const job = (tick: number) => (tick < 3 ? 5 : 150);
    const partial = { 3: 0.7 };
    expect(simulate(job, {}, 20, 100, { partial, remember: false })).toEqual([
      // previous window unknown: fit trunc(71.5 + 20 + 40 − 100) = 31 → 131, the job still throttled
      [3, 31, 131],
      // tick 4: usage 131 at its allocation → max(75, 131) = 131 → 262: upper 222, lower 182
      [4, 131, 262],
      // usage 150 < lower 182, and 150 + 60 − 262 = −52 frees ≥ 1 × margin: six down events (5..10)
      [10, -52, 210],
    ]);
    expect(simulate(job, {}, 20, 100, { partial })).toEqual([
      // previous window 5 ≤ lower 20: an onset → max(75, ceil(100 × 1)) = 100 → 200: upper 160, lower 120;
      // usage 150 sits in the band → quiet (one order instead of three)
      [3, 100, 200],
    ]);
  });
});
