/**
 * Budgets under concurrency: a user's max bounds the sum of its applications' max, and an
 * application's max bounds its containers' current. Requests that each fit alone but not
 * together are sent at once; at most as many as fit may succeed, the others fail cleanly
 * (4xx, their change not written), and the stored state keeps the budget.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DYNAMO_FLAVOURS } from '../../../support/env.ts';
import { type Answer, type ApiFixture, aContainer, aHost, apiFixture } from './harness.ts';

const ROUNDS = 3;

describe.each(DYNAMO_FLAVOURS)('budget checks under racing requests on %s', (flavour) => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await apiFixture(flavour);
    await f.call('PUT', '/hosts/h1', aHost({ cores: 64, memMiB: 65_536 }));
  });
  afterAll(async () => {
    await f.close();
  });

  const ok = async (method: string, path: string, body?: unknown) => {
    const r = await f.call(method, path, body);
    expect([r.status, r.body]).toEqual([expect.any(Number), expect.anything()]);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r;
  };
  const refusedCleanly = (answers: Answer[]) =>
    answers.filter((a) => a.status !== 200).every((a) => a.status === 409 || a.status === 400);
  const appMax = async (app: string) => (await ok('GET', `/apps/${app}`)).body.resources.cpu.max as number;
  const userSum = async (user: string) => {
    const u = (await ok('GET', `/users/${user}`)).body;
    let sum = 0;
    for (const a of u.applications as string[]) sum += await appMax(a);
    return sum;
  };

  it.each(Array.from({ length: ROUNDS }, (_, i) => i))(
    "raising several applications' max at once never takes a user over its max (round %i)",
    async (round) => {
      const user = `u${round}`;
      await ok('PUT', `/users/${user}`, { resources: { cpu: { max: 1000 } } });
      const apps = [0, 1, 2, 3, 4].map((i) => `r${round}a${i}`);
      for (const a of apps) {
        await ok('PUT', `/apps/${a}`, { resources: { cpu: { max: 100 } } });
        await ok('PUT', `/users/${user}/apps/${a}`);
      }
      // Each alone: 4 × 100 + 500 = 900 ≤ 1000; any two: 3 × 100 + 2 × 500 = 1300.
      const answers = await Promise.all(
        apps.map((a) => f.call('PUT', `/apps/${a}/resources/cpu`, { max: 500 })),
      );
      expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
      expect(refusedCleanly(answers)).toBe(true);
      expect(await userSum(user)).toBe(900);
      const raised = apps.filter((_, i) => answers[i]?.status === 200);
      for (const a of apps) expect(await appMax(a)).toBe(raised.includes(a) ? 500 : 100);
    },
  );

  it.each(Array.from({ length: ROUNDS }, (_, i) => i))(
    'linking several applications at once never takes a user over its max (round %i)',
    async (round) => {
      const user = `l${round}`;
      await ok('PUT', `/users/${user}`, { resources: { cpu: { max: 1000 } } });
      const apps = [0, 1, 2, 3].map((i) => `l${round}a${i}`);
      for (const a of apps) await ok('PUT', `/apps/${a}`, { resources: { cpu: { max: 400 } } });
      const answers = await Promise.all(apps.map((a) => f.call('PUT', `/users/${user}/apps/${a}`)));
      expect(answers.filter((a) => a.status === 200)).toHaveLength(2); // 2 × 400 fit, 3 do not
      expect(refusedCleanly(answers)).toBe(true);
      const linked = (await ok('GET', `/users/${user}`)).body.applications as string[];
      expect(linked).toHaveLength(2);
      expect(await userSum(user)).toBe(800);
      for (const a of apps)
        expect((await ok('GET', `/apps/${a}`)).body.user).toBe(linked.includes(a) ? user : null);
    },
  );

  it.each(Array.from({ length: ROUNDS }, (_, i) => i))(
    "lowering a user's max while its applications grow keeps the budget (round %i)",
    async (round) => {
      const user = `m${round}`;
      await ok('PUT', `/users/${user}`, { resources: { cpu: { max: 1000 } } });
      const apps = [0, 1].map((i) => `m${round}a${i}`);
      for (const a of apps) {
        await ok('PUT', `/apps/${a}`, { resources: { cpu: { max: 200 } } });
        await ok('PUT', `/users/${user}/apps/${a}`);
      }
      // The user to 700 fits 2 × 200, and each raise to 500 fits 1000; together they do not.
      const answers = await Promise.all([
        f.call('PUT', `/users/${user}/resources/cpu`, { max: 700 }),
        ...apps.map((a) => f.call('PUT', `/apps/${a}/resources/cpu`, { max: 500 })),
      ]);
      expect(refusedCleanly(answers)).toBe(true);
      const userMax = (await ok('GET', `/users/${user}`)).body.resources.cpu.max as number;
      expect(await userSum(user)).toBeLessThanOrEqual(userMax);
      expect(answers.filter((a) => a.status === 200).length).toBeGreaterThanOrEqual(1);
    },
  );

  it.each(Array.from({ length: ROUNDS }, (_, i) => i))(
    "adding several containers to an application at once never takes its containers' current over its max (round %i)",
    async (round) => {
      const app = `c${round}app`;
      await ok('PUT', `/apps/${app}`, { resources: { cpu: { max: 300 } } });
      const containers = [0, 1, 2, 3, 4].map((i) => `c${round}x${i}`);
      for (const c of containers)
        await ok('PUT', `/containers/${c}`, aContainer('h1', { cpu: [200, 50, 100] }));
      const answers = await Promise.all(containers.map((c) => f.call('PUT', `/apps/${app}/containers/${c}`)));
      expect(answers.filter((a) => a.status === 200)).toHaveLength(3); // 3 × 100 fit, 4 do not
      expect(refusedCleanly(answers)).toBe(true);
      const read = (await ok('GET', `/apps/${app}`)).body;
      expect(read.containers).toHaveLength(3);
      expect(read.resources.cpu.current).toBe(300);
      for (const c of containers)
        expect((await ok('GET', `/containers/${c}`)).body.container.application).toBe(
          read.containers.includes(c) ? app : null,
        );
    },
  );
});
