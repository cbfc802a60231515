import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { SERVICE_CONFIGS } from '../../../core/contracts/service-config.ts';
import {
  CONFIG_DOC,
  describeType,
  README,
  renderConfigDocs,
  spliceReadme,
} from '../../../scripts/gen-config-docs.ts';

describe('docs/configuration.md', () => {
  it('is what `npm run docs` generates from the schemas now (run it after changing a schema)', () => {
    expect(readFileSync(CONFIG_DOC, 'utf8')).toBe(renderConfigDocs());
  });

  it('matches the tables in README.md', () => {
    const readme = readFileSync(README, 'utf8');
    expect(readme).toBe(spliceReadme(readme));
    expect(readme).toContain('| `WINDOW_TIMELAPSE` | integer 1–300 | `5` |');
  });

  it('has one row per setting of every service, with its default', () => {
    const doc = renderConfigDocs();
    for (const [service, schema] of Object.entries(SERVICE_CONFIGS)) {
      const defaults = schema.parse({}) as Record<string, unknown>;
      for (const key of Object.keys(schema.shape)) {
        expect({ service, row: doc.includes(`| \`${key}\` |`) }).toEqual({ service, row: true });
        expect(doc).toContain(`\`${JSON.stringify(defaults[key])}\``);
      }
    }
    expect(doc).toContain('| `SC_TABLE` | string matching `^[A-Za-z0-9_.-]{3,255}$` | `"sc-state"` |');
  });

  it('lists the default request rules with the events they need (fast up, slow down)', () => {
    const doc = renderConfigDocs();
    expect(doc).toContain('| `CpuRescaleUp` | 1 up | more than 2 down | `amount` | 75 shares |');
    expect(doc).toContain('| `CpuRescaleDown` | 6 down | more than 0 up | `fit_to_usage` | — |');
    expect(doc).toContain('| `MemRescaleDown` | 8 down | more than 0 up | `fit_to_usage` | — |');
  });
});

describe('describeType', () => {
  it('spells ranges, enums, lists and maps', () => {
    expect(describeType({ type: 'integer', minimum: 1, maximum: 300 })).toBe('integer 1–300');
    expect(describeType({ type: 'number', minimum: 0 })).toBe('number ≥ 0');
    expect(describeType({ type: 'string', enum: ['a', 'b'] })).toBe('one of `a`, `b`');
    expect(describeType({ type: 'array', items: { type: 'string', enum: ['x'] }, minItems: 1 })).toBe(
      'list of `x` (at least 1)',
    );
    expect(
      describeType({
        type: 'object',
        propertyNames: { type: 'string', enum: ['cpu'] },
        additionalProperties: { type: 'integer', exclusiveMinimum: 0, maximum: Number.MAX_SAFE_INTEGER },
      }),
    ).toBe('map of `cpu` → integer > 0');
  });
});
