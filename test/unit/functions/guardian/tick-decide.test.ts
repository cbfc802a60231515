import { describe, expect, it } from '@jest/globals';
import type { Application } from '../../../../core/contracts/structure.ts';
import { applicationView, usageOf } from '../../../../functions/guardian/tick-decide.ts';
import { aContainer } from '../../../support/containers.ts';

const app: Application = {
  name: 'shop',
  user: null,
  guard: true,
  state: 'running',
  containers: ['a1', 'a2', 'gone'],
  resources: { cpu: { max: 800, min: 100, current: 0, guard: true, weight: 3 } },
  version: 1,
};
const containers = new Map([
  ['a1', aContainer('a1', 'h1', { cpu: { current: 300 } })],
  ['a2', aContainer('a2', 'h1', { cpu: { current: 250 } })],
  ['other', aContainer('other', 'h1', { cpu: { current: 100 } })],
]);

describe('applicationView', () => {
  it("is the application's own spec, weight included, with current = Σ of its present containers'", () => {
    const { view, members } = applicationView(app, containers);
    expect(members).toEqual(['a1', 'a2']);
    expect(view).toEqual({
      name: 'shop',
      type: 'application',
      resources: { cpu: { max: 800, min: 100, current: 550, guard: true, weight: 3 } }, // 300 + 250
    });
  });
});

describe('usageOf', () => {
  it("sums an application's members' usage, null when none is known", () => {
    const { view, members } = applicationView(app, containers);
    const target = { view, members, application: app, entry: { state: null } };
    expect(
      usageOf(
        target,
        new Map([
          ['a1', { cpu: 120 }],
          ['a2', { cpu: null }],
        ]),
      ),
    ).toEqual({ cpu: 120 });
    expect(usageOf(target, new Map([['a2', { cpu: null }]]))).toEqual({ cpu: null });
  });

  it("is a container's own usage", () => {
    const target = {
      view: { name: 'a1', type: 'container' as const, resources: {} },
      members: ['a1'],
      entry: { state: null },
    };
    expect(usageOf(target, new Map([['a1', { cpu: 120 }]]))).toEqual({ cpu: 120 });
  });
});
