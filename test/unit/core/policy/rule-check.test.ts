import { describe, expect, it } from '@jest/globals';
import type { RequestRule } from '../../../../core/contracts/rule.ts';
import { defaultConfig, type GuardianConfig } from '../../../../core/contracts/service-config.ts';
import { DEFAULT_RULES } from '../../../../core/policy/default-rules.ts';
import { checkRule, maxLiveEvents } from '../../../../core/policy/rule-check.ts';

const config = defaultConfig('guardian');
const withConfig = (c: Partial<GuardianConfig>): GuardianConfig => ({ ...config, ...c });

const cpuUp = DEFAULT_RULES.find((r) => r.name === 'CpuRescaleUp') as RequestRule;
const memDown = DEFAULT_RULES.find((r) => r.name === 'MemRescaleDown') as RequestRule;
const cpuEvent = DEFAULT_RULES.find((r) => r.name === 'cpu_exceeded_upper');

function expectRefused(rule: unknown, field: string, message: RegExp, c: GuardianConfig = config) {
  const res = checkRule(rule, c);
  expect(res).toMatchObject({ ok: false, field });
  if (!res.ok) expect(res.message).toMatch(message);
}

describe('checkRule', () => {
  it('accepts every default rule under the default config (guarding every resource)', () => {
    const all = withConfig({ GUARDABLE_RESOURCES: ['cpu', 'mem', 'disk_read', 'disk_write', 'net'] });
    for (const r of DEFAULT_RULES) expect(checkRule(r, all)).toEqual({ ok: true, rule: r });
  });

  it('refuses a schema violation naming the field', () => {
    expectRefused({ ...cpuUp, rescale_policy: 'modelling' }, 'rescale_policy', /./);
    expectRefused({ ...cpuUp, name: 'bad/name' }, 'name', /letters/);
  });

  it('refuses an unknown operator with its path', () => {
    expectRefused(
      { ...cpuUp, rule: { and: [{ method: ['x', 'y'] }] } },
      'rule.and[0]',
      /unknown operator "method"/,
    );
    expectRefused({ ...cpuUp, rule: { '>=': [1, 2], '<': [1, 2] } }, 'rule', /exactly one operator/);
  });

  it('refuses an operator given the wrong number of arguments, naming its path (JSON-Logic would evaluate it to false for ever)', () => {
    const usage = { var: 'cpu.structure.cpu.usage' };
    expectRefused({ ...cpuEvent, rule: { '>': [usage] } }, 'rule.>', /takes 2 arguments, found 1/);
    expectRefused(
      { ...cpuEvent, rule: { and: [{ '<': [1, usage, 2, 3] }] } },
      'rule.and[0].<',
      /takes 2 to 3 arguments, found 4/,
    );
    expectRefused({ ...cpuEvent, rule: { '?:': [usage, 1] } }, 'rule.?:', /takes 3 arguments/);
    expectRefused({ ...cpuEvent, rule: { and: [] } }, 'rule.and', /at least 1 argument, found 0/);
    // the forms JSON-Logic accepts: a between, a unary without its array, a variadic sum
    for (const rule of [
      { '<': [0, usage, 50] },
      { '!': { '<': [usage, 10] } },
      { '>': [{ '+': [usage, 1, 2] }, 100] },
    ])
      expect(checkRule({ ...cpuEvent, rule }, config)).toMatchObject({ ok: true });
  });

  it('refuses unknown variables for each rule kind', () => {
    expectRefused(
      { ...cpuUp, rule: { '>=': [{ var: 'cpu.structure.cpu.usage' }, 2] } },
      'rule.>=[0].var',
      /request rules read events.scale.up/,
    );
    expectRefused(
      { ...cpuEvent, rule: { '>': [{ var: 'cpu.structure.cpu.used' }, 1] } },
      'rule.>[0].var',
      /unknown variable "cpu.structure.cpu.used"/,
    );
  });

  it('refuses an event rule reading a resource that is not guarded (it would silently never fire)', () => {
    expectRefused(
      { ...cpuEvent, rule: { '>': [{ var: 'net.structure.net.usage' }, 1] } },
      'rule.>[0].var',
      /not in GUARDABLE_RESOURCES/,
    );
  });

  it('refuses a rule that needs more events than fit in EVENT_TIMEOUT', () => {
    // EVENT_TIMEOUT 40 s / WINDOW 10 s = 4 live events, MemRescaleDown needs 8 (the original's bug)
    const c = withConfig({ EVENT_TIMEOUT: 40, WINDOW_TIMELAPSE: 10 });
    expect(maxLiveEvents(c)).toBe(4);
    expectRefused(memDown, 'rule', /can never fire.*= 4 events/, c);
  });

  it('refuses events_to_remove larger than the events the rule requires', () => {
    expectRefused({ ...cpuUp, events_to_remove: 3 }, 'events_to_remove', /3 exceeds the 1 up events/);
  });

  it('refuses events_to_remove 0 and a rule that fires with no events', () => {
    expectRefused({ ...cpuUp, events_to_remove: 0 }, 'events_to_remove', /every tick/);
    expectRefused(
      { ...cpuUp, rule: { '<=': [{ var: 'events.scale.down' }, 2] } },
      'rule',
      /no events at all/,
    );
  });

  it('refuses a scale-up rule that needs no up events', () => {
    expectRefused(
      { ...cpuUp, rule: { '>=': [{ var: 'events.scale.down' }, 1] } },
      'rule',
      /without any up events/,
    );
  });

  it('refuses amounts whose sign contradicts the direction', () => {
    expectRefused({ ...cpuUp, amount: -75 }, 'amount', /positive/);
    expectRefused({ ...cpuUp, amount: 0 }, 'amount', /must not be 0/);
    expect(checkRule({ ...memDown, amount: 0 }, config).ok).toBe(true); // fit_to_usage ignores amount
  });

  it('refuses a rule reading no variables', () => {
    expectRefused({ ...cpuEvent, rule: true }, 'rule', /no variables/);
  });

  it('checks reachability over long timeouts using the rule constants', () => {
    // 3600 s / 1 s = 3600 live events; a rule needing 500 up events is reachable
    const c = withConfig({ EVENT_TIMEOUT: 3600, WINDOW_TIMELAPSE: 1 });
    const rule = { ...cpuUp, events_to_remove: 500, rule: { '>=': [{ var: 'events.scale.up' }, 500] } };
    expect(checkRule(rule, c).ok).toBe(true);
    expectRefused({ ...rule, rule: { '>=': [{ var: 'events.scale.up' }, 3601] } }, 'rule', /never fire/, c);
  });
});
