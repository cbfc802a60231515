import { describe, expect, it } from '@jest/globals';
import { ago, keyValues, table } from '../../../cli/format.ts';

describe('table', () => {
  it('pads columns to the widest cell, right-aligns numeric columns and shows null as -', () => {
    expect(
      table(
        ['NAME', 'CPU'],
        [
          ['c1', 100],
          ['long-name', 5],
          ['c3', null],
        ],
      ),
    ).toBe(['NAME       CPU', 'c1         100', 'long-name    5', 'c3           -'].join('\n'));
  });

  it('prints only the header for no rows', () => {
    expect(table(['A', 'B'], [])).toBe('A  B');
  });
});

describe('keyValues', () => {
  it('aligns keys and prints nested values as JSON', () => {
    expect(keyValues({ a: 1, long: { x: [1] } })).toBe('a     1\nlong  {"x":[1]}');
  });
});

describe('ago', () => {
  it('says how long ago in s, m or h', () => {
    expect(ago(1000, 31_000)).toBe('30s ago');
    expect(ago(0, 10 * 60_000)).toBe('10m ago');
    expect(ago(0, 5 * 3_600_000)).toBe('5h ago');
    expect(ago(null, 0)).toBe('-');
  });
});
