import { describe, expect, it } from '@jest/globals';
import type { StatusRow } from '../../../local/loop.ts';
import { statusLines } from '../../../local/status-table.ts';

const row = (over: Partial<StatusRow> = {}): StatusRow => ({
  container: 'demo1',
  cpu: { usage: 98.6, current: 125, applied: 125, max: 200 },
  mem: { usage: 12.2, current: 128, applied: 128, max: 1024 },
  lastDecision: 'CpuRescaleUp +75',
  ...over,
});

describe('statusLines', () => {
  it('shows usage, desired, applied and max per resource, rounded, with the last decision', () => {
    const lines = statusLines([row()], 'phase cpu-burst');
    expect(lines[0]).toBe('phase cpu-burst');
    expect(lines[2]).toMatch(/^demo1 +99\/125\/125\/200 +12\/128\/128\/1024 +CpuRescaleUp \+75$/);
  });

  it('shows "-" where there is no data yet and says when nothing is guarded', () => {
    const lines = statusLines(
      [row({ cpu: { usage: null, current: 50, applied: null, max: 200 }, lastDecision: null })],
      'h',
    );
    expect(lines[2]).toMatch(/-\/50\/-\/200/);
    expect(lines[2]?.trimEnd().endsWith('-')).toBe(true);
    expect(statusLines([], 'h')).toContain('(no container guarded yet)');
  });

  it('cuts lines to the terminal width', () => {
    const lines = statusLines([row({ lastDecision: 'x'.repeat(300) })], 'h', 80);
    expect(lines[2]).toHaveLength(80);
  });
});
