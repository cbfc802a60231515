import { describe, expect, it } from '@jest/globals';
import type { GuardState } from '../../../../../core/contracts/guard-state.ts';
import { defaultConfig } from '../../../../../core/contracts/service-config.ts';
import { DEFAULT_RULES } from '../../../../../core/policy/default-rules.ts';
import { compileRules, decide } from '../../../../../core/policy/guardian/decide.ts';

/**
 * A closed loop without I/O: a cpu demand trace, the container's usage is
 * min(demand, current), every request is applied at once by adjusting current.
 * Window 5 s, EVENT_TIMEOUT 60 s, default rules (up: 1 event → +75;
 * down: 6 events → fit_to_usage), cpu max 400, min 50, boundary 10 % of max → margin 40.
 */
describe('guardian simulation', () => {
  it('follows a step up, a plateau and a drop with the expected requests at the expected ticks', () => {
    const rules = compileRules(DEFAULT_RULES);
    const config = { ...defaultConfig('guardian'), GUARDABLE_RESOURCES: ['cpu' as const] };
    const demand = (tick: number) => (tick < 3 ? 120 : tick < 20 ? 390 : 60);
    let current = 200;
    let prev: GuardState | null = null;
    const log: [number, number, number][] = [];
    for (let tick = 0; tick < 40; tick++) {
      const usage = Math.min(demand(tick), current);
      const out = decide({
        structure: {
          name: 'c0',
          type: 'container',
          resources: { cpu: { max: 400, min: 50, current, guard: true } },
        },
        previous: prev,
        usage: { cpu: usage },
        rules,
        config,
        now: tick * 5000,
      });
      for (const r of out.requests) {
        current += r.amount;
        log.push([tick, r.amount, current]);
      }
      prev = out.state;
    }
    expect(log).toEqual([
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
});
