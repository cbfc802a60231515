import { describe, expect, it } from '@jest/globals';
import { Rule } from '../../../../core/contracts/rule.ts';
import { defaultConfig } from '../../../../core/contracts/service-config.ts';
import { DEFAULT_RULES } from '../../../../core/policy/default-rules.ts';

describe('default rules', () => {
  it('all satisfy the rule schema and have unique names', () => {
    for (const r of DEFAULT_RULES) expect(Rule.safeParse(r).success).toBe(true);
    expect(new Set(DEFAULT_RULES.map((r) => r.name)).size).toBe(DEFAULT_RULES.length);
  });

  it('need no more events than fit in EVENT_TIMEOUT at the default window', () => {
    const g = defaultConfig('guardian');
    for (const r of DEFAULT_RULES) {
      if (r.generates !== 'requests') continue;
      // e.g. MemRescaleDown: 8 events × 5 s = 40 s ≤ 60 s
      expect(r.events_to_remove * g.WINDOW_TIMELAPSE).toBeLessThanOrEqual(g.EVENT_TIMEOUT);
    }
  });
});
