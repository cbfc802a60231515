import { describe, expect, it } from '@jest/globals';
import { DEFAULT_RULES } from '../../../../../core/policy/default-rules.ts';
import { withThreshold } from '../../../../../functions/api/routes/rules.ts';

const cpuUp = DEFAULT_RULES.find((r) => r.name === 'CpuRescaleUp');

describe('withThreshold', () => {
  it('rewrites the threshold compared with the chosen event count and nothing else', () => {
    expect(cpuUp?.rule).toEqual({
      and: [{ '>=': [{ var: 'events.scale.up' }, 1] }, { '<=': [{ var: 'events.scale.down' }, 2] }],
    });
    expect(withThreshold(cpuUp?.rule ?? null, 'up', 5)).toEqual({
      and: [{ '>=': [{ var: 'events.scale.up' }, 5] }, { '<=': [{ var: 'events.scale.down' }, 2] }],
    });
    expect(withThreshold(cpuUp?.rule ?? null, 'down', 0)).toEqual({
      and: [{ '>=': [{ var: 'events.scale.up' }, 1] }, { '<=': [{ var: 'events.scale.down' }, 0] }],
    });
  });

  it('answers null when the rule compares no such count', () => {
    expect(withThreshold({ '>': [{ var: 'cpu.structure.cpu.usage' }, 1] }, 'up', 3)).toBeNull();
  });
});
