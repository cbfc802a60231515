import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { GuardState } from '../../../../../core/contracts/guard-state.ts';
import { defaultConfig } from '../../../../../core/contracts/service-config.ts';
import { DEFAULT_RULES } from '../../../../../core/policy/default-rules.ts';
import {
  compileRules,
  type DecideInput,
  decide,
  type StructureView,
} from '../../../../../core/policy/guardian/decide.ts';

const rules = compileRules(DEFAULT_RULES);
const config = defaultConfig('guardian'); // window 5 s, timeout 60 s, cpu + mem
/** The original framework's amounts (the rule's +75 whatever the window shows, every scale-down ordered). */
const unshaped = { ...config, SCALE_UP_FIT: false, SCALE_UP_GROWTH: 0, SCALE_DOWN_MIN: 0 };

function aContainer(cpu: { max?: number; min?: number; current?: number } = {}): StructureView {
  return {
    name: 'c0',
    type: 'container',
    resources: {
      cpu: { max: 400, min: 50, current: 300, guard: true, ...cpu },
      mem: { max: 4096, min: 256, current: 2048, guard: true },
    },
  };
}

function run(input: Partial<DecideInput> & { usage: DecideInput['usage'] }) {
  return decide({ structure: aContainer(), previous: null, rules, config, now: 1_000_000, ...input });
}

describe('decide', () => {
  it('writes event reasons an operator can read: usage rounded to 2 decimals (issue 19, item 7)', () => {
    const out = run({ usage: { cpu: 280.01 + 0.022, mem: 1500 }, config: unshaped });
    const texts = (out.requests[0]?.reasons ?? []).map((r) => r.text).join('\n');
    expect(texts).toContain('usage 280.03 vs upper 260 / lower 220');
    expect(texts).not.toContain('280.032'); // the reason's values keep the exact number
  });

  it('adds an up event when cpu usage exceeds upper and requests CpuRescaleUp +75 on it (one event up)', () => {
    // cpu margin 10 % of 400 = 40 → upper 260; 280 > 260 → one up event, and CpuRescaleUp needs one
    const out = run({ usage: { cpu: 280, mem: 1500 }, config: unshaped });
    expect(out.newEvents).toEqual([
      { structure: 'c0', resource: 'cpu', direction: 'up', rule: 'cpu_exceeded_upper', timestamp: 1_000_000 },
    ]);
    expect(out.state.limits.cpu).toMatchObject({ upper: 260, lower: 220 });
    expect(out.state.limits.mem).toMatchObject({ upper: 1639, lower: 1230 }); // 2048 − floor(409.6) = 1639; 1639 − 409
    expect(out.requests).toHaveLength(1);
    expect(out.requests[0]).toMatchObject({
      structure: 'c0',
      resource: 'cpu',
      amount: 75, // 300 + 75 = 375 ≤ max 400: untrimmed
      usage: 280,
      source: 'guardian',
    });
    expect(out.requests[0]?.reasons[0]).toMatchObject({
      source: 'CpuRescaleUp',
      values: { up: 1, down: 0, upper: 260 },
    });
    expect(out.state.events).toEqual([]); // the one up event consumed
    expect(out.state.lastDecision?.text).toBe('CpuRescaleUp +75');
    expect(out.changed).toBe(true);
  });

  it('scales up on one event but down only after six (fast up, slow down)', () => {
    // usage 100 < lower 220 for five ticks: five down events, no request yet
    let prev: GuardState | null = null;
    for (let i = 0; i < 5; i++) {
      const out = run({ previous: prev, usage: { cpu: 100, mem: 1500 }, now: 1_000_000 + i * 5000 });
      expect(out.requests).toEqual([]);
      prev = out.state;
    }
    // one window above upper: CpuRescaleUp (up ≥ 1, down 5 ≤ 2? no) — the down events block it
    const blocked = run({ previous: prev, usage: { cpu: 280, mem: 1500 }, now: 1_025_000 });
    expect(blocked.requests).toEqual([]);
    expect(blocked.state.lastDecision?.text).toBe('events up 1 / down 5');
  });

  it('fits cpu to usage after six down events', () => {
    // usage 100 < lower 220 six ticks in a row; fit: 100 + 20 + 40 − 300 = −140
    let prev: GuardState | null = null;
    let out = run({ usage: { cpu: 100, mem: 1500 } });
    for (let i = 0; i < 6; i++) {
      out = run({ previous: prev, usage: { cpu: 100, mem: 1500 }, now: 1_000_000 + i * 5000 });
      prev = out.state;
    }
    expect(out.requests.map((r) => [r.resource, r.amount])).toEqual([['cpu', -140]]);
  });

  it('skips a resource with no data or bad usage, counted, no request', () => {
    const out = run({ usage: { cpu: Number.NaN, mem: null } });
    expect(out.skips).toEqual([
      { resource: 'cpu', why: 'bad_usage', value: Number.NaN },
      { resource: 'mem', why: 'no_data', value: null },
    ]);
    expect(out.requests).toEqual([]);
    expect(run({ usage: { cpu: -5 } }).skips[0]).toMatchObject({ why: 'bad_usage', value: -5 });
  });

  it('reports no change for a stable structure whose limits are stored', () => {
    const first = run({ usage: { cpu: 240, mem: 1500 } }); // 220 ≤ 240 ≤ 260; 1230 ≤ 1500 ≤ 1639
    const again = run({ previous: first.state, usage: { cpu: 240, mem: 1500 }, now: 1_005_000 });
    expect(again.changed).toBe(false);
    expect(again.state.lastDecision?.text).toBe('stable');
  });

  it('marks decisions dry-run under a global or per-structure switch', () => {
    const first = run({ usage: { cpu: 280, mem: 1500 }, config: { ...config, DRY_RUN: true } });
    expect(first.dryRun).toBe(true);
    const perStructure = run({
      previous: { ...first.state, dryRun: true },
      usage: { cpu: 290, mem: 1500 },
      now: 1_005_000,
    });
    expect(perStructure.dryRun).toBe(true);
    // computed, for the record; the tick does not submit it. 290 ≥ 300 − 40/2: at its allocation →
    // max(75, ceil(300 × 1)) = 300, trimmed to max 400: +100
    expect(perStructure.requests[0]?.amount).toBe(100);
  });

  it('sizes the up step by what the window shows (cpu current 300, margin 40: upper 260)', () => {
    const amount = (cpu: number, cfg = config) => run({ usage: { cpu, mem: 1500 }, config: cfg }).requests[0];
    // visible: 270 < 300 − 20 → fit 270 + 20 + 40 − 300 = 30 → 330: upper 290, lower 250 around 270
    expect(amount(270)?.amount).toBe(30);
    expect(amount(270)?.reasons[0]?.text).toBe('events up 1 / down 0; amount (fit) → 30');
    // at its allocation: 285 ≥ 280 → max(75, 300 × 1) = 300 → trimmed to max 400: +100
    expect(amount(285)?.amount).toBe(100);
    expect(amount(285)?.reasons[0]?.text).toBe('events up 1 / down 0; amount (grown) → 300 (to max: 100)');
    // growth 0.2: max(75, 60) = 75 (never less than the rule's amount); growth 0.3: max(75, 90) = 90
    expect(amount(285, { ...config, SCALE_UP_GROWTH: 0.2 })?.amount).toBe(75);
    expect(amount(285, { ...config, SCALE_UP_GROWTH: 0.3 })?.amount).toBe(90);
    // unshaped: the rule's +75 either way
    expect(amount(270, unshaped)?.amount).toBe(75);
    expect(amount(285, unshaped)?.amount).toBe(75);
  });

  it('steps an onset (previous window under lower) as at its allocation instead of fitting it', () => {
    // cpu current 300, margin 40: upper 260, lower 220; usage 270 is visible (< 300 − 20)
    const amount = (previousUsage: DecideInput['previousUsage'], cfg = config) =>
      run({
        usage: { cpu: 270, mem: 1500 },
        ...(previousUsage === undefined ? {} : { previousUsage }),
        config: cfg,
      }).requests;
    // previous window 100 ≤ lower 220: a rise from below → max(75, ceil(300 × 1)) = 300, trimmed to max 400: +100
    const onset = amount({ cpu: 100, mem: 1500 });
    expect(onset.map((r) => [r.resource, r.amount])).toEqual([['cpu', 100]]);
    expect(onset[0]?.reasons[0]?.text).toBe('events up 1 / down 0; amount (onset) → 300 (to max: 100)');
    expect(onset[0]?.reasons[0]?.values).toMatchObject({ usage: 270, previous: 100 });
    // previous 240 > lower 220 (a level), unknown (null, missing, no data, bad): the fit 270 + 20 + 40 − 300 = 30
    for (const previous of [
      { cpu: 240 },
      null,
      undefined,
      {},
      { cpu: null },
      { cpu: Number.NaN },
      { cpu: -1 },
    ])
      expect(amount(previous)[0]?.amount).toBe(30);
    expect(amount(null)[0]?.reasons[0]?.values).not.toHaveProperty('previous');
    // SCALE_UP_FIT false: the original's +75 whatever the previous window
    expect(amount({ cpu: 100 }, { ...config, SCALE_UP_FIT: false })[0]?.amount).toBe(75);
  });

  it('gathers no down events while a scale-down would free less than SCALE_DOWN_MIN × margin', () => {
    // cpu current 300, margin 40: lower 220
    const windows = (cpu: number, cfg: typeof config) => {
      let prev: GuardState | null = null;
      const outs = [];
      for (let i = 0; i < 6; i++) {
        const out = run({
          previous: prev,
          usage: { cpu, mem: 1500 },
          now: 1_000_000 + i * 5000,
          config: cfg,
        });
        outs.push(out);
        prev = out.state;
      }
      return outs;
    };
    // usage 200 < lower 220: fit 200 + 20 + 40 − 300 = −40; 40 ≥ 1 × 40 → six events, ordered
    expect(windows(200, config).flatMap((o) => o.requests.map((r) => r.amount))).toEqual([-40]);
    // 40 < 1.5 × 40 = 60: not worth an order → no event at all (no run of events ending in nothing,
    // started again every minute); the structure stays quiet, its state unchanged after the first window
    const quiet = windows(200, { ...config, SCALE_DOWN_MIN: 1.5 });
    expect(quiet.flatMap((o) => o.newEvents)).toEqual([]);
    expect(quiet.flatMap((o) => o.requests)).toEqual([]);
    expect(quiet.slice(1).map((o) => o.changed)).toEqual([false, false, false, false, false]);
    expect(quiet[5]?.state.lastDecision?.text).toBe('stable');
    // usage 180: fit 180 + 60 − 300 = −60 ≥ 60 → worth it: six events, ordered
    expect(
      windows(180, { ...config, SCALE_DOWN_MIN: 1.5 }).flatMap((o) => o.requests.map((r) => r.amount)),
    ).toEqual([-60]);
    // SCALE_DOWN_MIN 0: every window under lower is an event, as in the original
    expect(windows(219, unshaped)[0]?.newEvents.map((e) => e.rule)).toEqual(['cpu_dropped_lower']);
  });

  it('never requests while usage stays in the stable band (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 60, max: 1000 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 30 }),
        (max, fractions) => {
          const s = aContainer({ max, min: 0, current: max });
          let prev: GuardState | null = null;
          const m = Math.floor(max / 10); // margin
          for (const [i, f] of fractions.entries()) {
            const usage = max - 2 * m + f * m; // in [lower, upper]
            const out = decide({
              structure: s,
              previous: prev,
              usage: { cpu: usage },
              rules,
              config,
              now: i * 5000,
            });
            expect(out.requests).toEqual([]);
            prev = out.state;
          }
        },
      ),
    );
  });

  it('never emits a request that takes current outside [min, max], whatever the usage (property)', () => {
    const proportional = compileRules(
      DEFAULT_RULES.map((r) =>
        r.name === 'CpuRescaleUp' ? { ...r, rescale_policy: 'proportional' as const, amount: 150 } : r,
      ),
    );
    let emitted = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 50 }),
        // plateaus of usage (level, ticks), so events accumulate as in real traces
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1600 }), fc.integer({ min: 1, max: 10 })), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.boolean(),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.record({
          SCALE_UP_FIT: fc.boolean(),
          SCALE_UP_GROWTH: fc.double({ min: 0, max: 4, noNaN: true }),
          SCALE_DOWN_MIN: fc.double({ min: 0, max: 4, noNaN: true }),
        }),
        (min, span, boundary, plateaus, prop, start, shaping) => {
          const max = min + span;
          const usages = plateaus.flatMap(([u, n]) => Array<number>(n).fill(u));
          let current = Math.round(min + start * span);
          let prev: GuardState | null = null;
          for (const [i, u] of usages.entries()) {
            const s: StructureView = {
              name: 'c0',
              type: 'container',
              resources: { cpu: { max, min, current, guard: true } },
            };
            const previous: GuardState | null = prev ?? {
              structure: 'c0',
              structureType: 'container',
              version: 0,
              limits: { cpu: { boundary, boundary_type: 'percentage_of_current', upper: null, lower: null } },
              events: [],
              lastDecision: null,
              dryRun: false,
            };
            const out = decide({
              structure: s,
              previous,
              usage: { cpu: u },
              rules: prop ? proportional : rules,
              config: { ...config, ...shaping },
              now: i * 5000,
            });
            for (const r of out.requests) {
              emitted += 1;
              current += r.amount;
              expect(current).toBeGreaterThanOrEqual(min);
              expect(current).toBeLessThanOrEqual(max);
            }
            prev = out.state;
          }
        },
      ),
    );
    expect(emitted).toBeGreaterThan(50); // the property is not vacuous
  });

  describe('idle is data, no data holds', () => {
    it('scales cpu down on a reading of exactly 0 after six windows, like any low reading', () => {
      // cpu: max 400, margin 40, current 300 → lower 220; usage 0 < 220 six windows in a row
      let prev: GuardState | null = null;
      let out = run({ usage: { cpu: 0, mem: 1500 } });
      for (let i = 0; i < 6; i++) {
        out = run({
          previous: prev,
          usage: { cpu: 0, mem: 1500 },
          now: 1_000_000 + i * 5000,
          config: unshaped,
        });
        prev = out.state;
      }
      // fit: 0 + floor(40/2) + 40 − 300 = −240, then trimmed so that the new lower stays ≥ min 50
      expect(out.requests).toHaveLength(1);
      expect(out.requests[0]).toMatchObject({ resource: 'cpu', usage: 0 });
      expect(out.requests[0]?.amount).toBeLessThan(0);
      expect(300 + (out.requests[0]?.amount ?? 0) - 2 * 40).toBeGreaterThanOrEqual(50);
    });

    it('scales memory down on a reading of 0 too (the agent refuses below real usage: EBUSY)', () => {
      let prev: GuardState | null = null;
      let out = run({ usage: { cpu: 250, mem: 0 } });
      for (let i = 0; i < 8; i++) {
        out = run({
          previous: prev,
          usage: { cpu: 250, mem: 0 },
          now: 1_000_000 + i * 5000,
          config: unshaped,
        });
        prev = out.state;
      }
      expect(out.requests.map((r) => [r.resource, Math.sign(r.amount)])).toEqual([['mem', -1]]);
    });

    it('holds on null (no data) however long it lasts: no event, no request, a skip', () => {
      let prev: GuardState | null = null;
      for (let i = 0; i < 20; i++) {
        const out = run({ previous: prev, usage: { cpu: null, mem: null }, now: 1_000_000 + i * 5000 });
        expect(out.newEvents).toEqual([]);
        expect(out.requests).toEqual([]);
        expect(out.skips.map((s) => s.why)).toEqual(['no_data', 'no_data']);
        prev = out.state;
      }
    });

    it('counts 0 as a low reading for every default down rule, and never a negative reading', () => {
      const downRules = DEFAULT_RULES.filter(
        (r) => r.generates === 'events' && r.name.endsWith('_dropped_lower'),
      );
      expect(downRules.map((r) => r.name)).toEqual([
        'cpu_dropped_lower',
        'mem_dropped_lower',
        'disk_read_dropped_lower',
        'disk_write_dropped_lower',
        'net_dropped_lower',
      ]);
      for (const r of downRules)
        expect(JSON.stringify(r.rule)).toContain(
          `{">=":[{"var":"${r.resource}.structure.${r.resource}.usage"},0]}`,
        );
    });
  });
});
