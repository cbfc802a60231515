/**
 * Bounded rule checking at the API (issue 19, items 3 and 4): a hostile rule or
 * config value is a clear 400 in milliseconds, changes nothing, and never holds
 * up a concurrent request.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DEFAULT_RULES } from '../../../../core/policy/default-rules.ts';
import { type ApiFixture, apiFixture } from './harness.ts';

const cpuUp = DEFAULT_RULES.find((r) => r.name === 'CpuRescaleUp') as (typeof DEFAULT_RULES)[number];

/** A rule body as text: JSON.stringify itself overflows on the deepest of these. */
function ruleText(rule: string): string {
  return JSON.stringify({ ...cpuUp, name: 'Deep', rule: '@' }).replace('"@"', rule);
}
const nested = (depth: number) => `${'{"!":['.repeat(depth)}{"var":"events.scale.up"}${']}'.repeat(depth)}`;

describe('hostile rules at the API', () => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await apiFixture('dynalite');
    expect((await f.call('PUT', '/services/guardian/config/EVENT_TIMEOUT', { value: 3600 })).status).toBe(
      200,
    );
    expect((await f.call('PUT', '/services/guardian/config/WINDOW_TIMELAPSE', { value: 1 })).status).toBe(
      200,
    );
  });
  afterAll(async () => {
    await f.close();
  });

  it('answers a 150-constant request rule in well under a second, and a concurrent request is not held', async () => {
    const terms = Array.from({ length: 150 }, (_, i) => ({ '!=': [{ var: 'events.scale.up' }, 7 + i * 3] }));
    const rule = {
      ...cpuUp,
      name: 'Wide',
      rule: { and: [{ '>=': [{ var: 'events.scale.up' }, 2] }, ...terms] },
    };
    const before = await f.snapshot();
    const t0 = performance.now();
    const [put, health] = await Promise.all([f.call('PUT', '/rules/Wide', rule), f.call('GET', '/health')]);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(health.status).toBe(200);
    expect(put.status).toBe(400);
    expect(await f.snapshot()).toEqual(before);
  });

  it.each([
    ['a rule nested 5,000 deep', ruleText(nested(5000))],
    ['a rule nested 40 deep (the state store refuses over 32)', ruleText(nested(40))],
    [
      'a var default that is a 20,000-deep array',
      ruleText(`{">=":[{"var":["events.scale.up",${'['.repeat(20000)}${']'.repeat(20000)}]},3]}`),
    ],
    [
      'an unknown operator inside a var default',
      ruleText('{">=":[{"var":["events.scale.up",{"method":["x"]}]},3]}'),
    ],
    ['a var default two levels deep', ruleText('{">=":[{"var":["events.scale.up",[[1]]]},3]}')],
  ])('refuses %s with 400, changing nothing', async (_what, rule) => {
    const before = await f.snapshot();
    const r = await f.call('PUT', '/rules/Deep', rule);
    expect(r.status).toBe(400);
    expect(await f.snapshot()).toEqual(before);
  });

  it('refuses a config value nested deeper than the state store keeps, and a body over its item size', async () => {
    const before = await f.snapshot();
    const deep = JSON.parse(`${'['.repeat(40)}${']'.repeat(40)}`);
    expect((await f.call('PUT', '/services/guardian/config/DRY_RUN', { value: deep })).status).toBe(400);
    const big = await f.call('PUT', '/services/guardian/config/DRY_RUN', { value: 'x'.repeat(400 * 1024) });
    expect(big.status).toBe(400);
    expect(big.body.message).toMatch(/bytes/);
    expect(await f.snapshot()).toEqual(before);
  });
});
