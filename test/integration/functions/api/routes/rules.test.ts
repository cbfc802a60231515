import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DEFAULT_RULES } from '../../../../../core/policy/default-rules.ts';
import { DYNAMO_FLAVOURS } from '../../../../support/env.ts';
import { type ApiFixture, apiFixture } from '../harness.ts';

const custom = {
  name: 'cpu_very_high',
  resource: 'cpu',
  active: true,
  generates: 'events',
  rule: { '>': [{ var: 'cpu.structure.cpu.usage' }, { var: 'cpu.limits.cpu.upper' }] },
  action: { events: { scale: { up: 1 } } },
};

describe.each(DYNAMO_FLAVOURS)('rule routes on %s', (flavour) => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await apiFixture(flavour);
  });
  afterAll(async () => {
    await f.close();
  });

  it('lists and reads rules', async () => {
    const ls = await f.call('GET', '/rules');
    expect(ls.body).toHaveLength(DEFAULT_RULES.length);
    expect((await f.call('GET', '/rules/CpuRescaleUp')).body).toMatchObject({
      amount: 75,
      rescale_type: 'up',
    });
    expect((await f.call('GET', '/rules/NoSuchRule')).status).toBe(404);
  });

  it('refuses If-Match (rules carry no version) instead of ignoring it, changing nothing', async () => {
    const before = await f.snapshot();
    const r = await f.call('PUT', '/rules/CpuRescaleUp/amount', { value: 80 }, { 'If-Match': '1' });
    expect(r.status).toBe(400);
    expect(r.body.field).toBe('If-Match');
    expect(await f.snapshot()).toEqual(before);
  });

  it('deactivates and activates a rule, idempotently', async () => {
    expect((await f.call('PUT', '/rules/CpuRescaleUp/deactivate')).body.active).toBe(false);
    const before = await f.snapshot();
    expect((await f.call('PUT', '/rules/CpuRescaleUp/deactivate')).status).toBe(200);
    expect(await f.snapshot()).toEqual(before);
    expect((await f.call('PUT', '/rules/CpuRescaleUp/activate')).body.active).toBe(true);
  });

  it('changes amount and rescale policy, refusing them on event rules and fit_to_usage on a scale-up rule', async () => {
    expect((await f.call('PUT', '/rules/CpuRescaleUp/amount', { value: 100 })).body.amount).toBe(100);
    expect(
      (await f.call('PUT', '/rules/CpuRescaleUp/policy', { value: 'proportional' })).body.rescale_policy,
    ).toBe('proportional');
    const before = await f.snapshot();
    expect((await f.call('PUT', '/rules/cpu_exceeded_upper/amount', { value: 5 })).body.field).toBe('amount');
    expect((await f.call('PUT', '/rules/CpuRescaleUp/policy', { value: 'fit_to_usage' })).body.field).toBe(
      'value',
    );
    expect((await f.call('PUT', '/rules/CpuRescaleUp/policy', { value: 'magic' })).body.field).toBe('value');
    expect((await f.call('PUT', '/rules/CpuRescaleUp/amount', { value: '5' })).body.field).toBe('value');
    expect(await f.snapshot()).toEqual(before);
  });

  it('sets the events required of its own direction (threshold and events_to_remove) or only the opposite cap', async () => {
    const own = await f.call('PUT', '/rules/CpuRescaleDown/events-required', { value: 4 });
    expect(own.status).toBe(200);
    expect(own.body.events_to_remove).toBe(4);
    expect(JSON.stringify(own.body.rule)).toContain('[{"var":"events.scale.down"},4]');
    const cap = await f.call('PUT', '/rules/CpuRescaleDown/events-required', { value: 1, direction: 'up' });
    expect(cap.body.events_to_remove).toBe(4); // the opposite cap does not touch events_to_remove
    expect(JSON.stringify(cap.body.rule)).toContain('[{"var":"events.scale.up"},1]');
  });

  it('refuses events required that make a rule unreachable within EVENT_TIMEOUT, changing nothing', async () => {
    const before = await f.snapshot();
    // EVENT_TIMEOUT 60 s / WINDOW_TIMELAPSE 5 s = 12 windows: 50 events can never be live together.
    const r = await f.call('PUT', '/rules/CpuRescaleDown/events-required', { value: 50 });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/reach|EVENT_TIMEOUT|live/i);
    expect(await f.snapshot()).toEqual(before);
  });

  it('creates a custom rule (201), replaces it (200) and deletes it; default rules cannot be deleted', async () => {
    expect((await f.call('PUT', `/rules/${custom.name}`, custom)).status).toBe(201);
    expect((await f.call('PUT', `/rules/${custom.name}`, { ...custom, active: false })).status).toBe(200);
    expect((await f.call('DELETE', `/rules/${custom.name}`)).status).toBe(200);
    expect((await f.call('GET', `/rules/${custom.name}`)).status).toBe(404);
    expect((await f.call('DELETE', '/rules/CpuRescaleUp')).status).toBe(409);
  });

  it.each([
    ['an unknown variable', { ...custom, rule: { '>': [{ var: 'cpu.structure.cpu.usgae' }, 1] } }],
    ['an unknown operator', { ...custom, rule: { eval: ['rm -rf /'] } }],
    ['a name that differs from the path', { ...custom, name: 'other' }],
    ['a missing field', { ...custom, action: undefined }],
  ])('refuses a bad rule (%s) with 400 and stores nothing', async (_what, body) => {
    const before = await f.snapshot();
    const r = await f.call('PUT', `/rules/${custom.name}`, body);
    expect(r.status).toBe(400);
    expect(r.body.message).toEqual(expect.any(String));
    expect(await f.snapshot()).toEqual(before);
  });
});
