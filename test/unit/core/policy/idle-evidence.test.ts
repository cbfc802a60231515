import { describe, expect, it } from '@jest/globals';
import { IDLE_CPU_SHARES, withIdleEvidence } from '../../../../core/policy/idle-evidence.ts';

describe('withIdleEvidence (idle is 0, absent is null)', () => {
  const absent = { cpu: null, mem: null, disk_read: null, net: null };

  it('reads an idle container as 0 when the agent saw it running at ≤ 1 share, memory still unknown', () => {
    expect(withIdleEvidence(absent, 0)).toEqual({ cpu: 0, mem: null, disk_read: 0, net: 0 });
    expect(withIdleEvidence(absent, IDLE_CPU_SHARES)).toEqual({ cpu: 0, mem: null, disk_read: 0, net: 0 });
  });

  it('holds (null) without the agent series: TSD, agent or container down', () => {
    expect(withIdleEvidence(absent, null)).toEqual(absent);
  });

  it('holds when the agent saw real work the source did not report (its series lag)', () => {
    expect(withIdleEvidence(absent, IDLE_CPU_SHARES + 0.5)).toEqual(absent);
  });

  it('never replaces a reading the source has, nor one it rejected as bad', () => {
    expect(withIdleEvidence({ cpu: 42, net: null }, 0, new Set(['net']))).toEqual({ cpu: 42, net: null });
    expect(withIdleEvidence({ cpu: 0, mem: 300 }, 0)).toEqual({ cpu: 0, mem: 300 });
  });

  it('refuses evidence that is no number of shares', () => {
    expect(withIdleEvidence(absent, Number.NaN)).toEqual(absent);
    expect(withIdleEvidence(absent, -1)).toEqual(absent);
  });
});
