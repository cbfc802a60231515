import { describe, expect, it } from '@jest/globals';
import type { HostState } from '../../../../core/contracts/host.ts';
import { defaultConfig } from '../../../../core/contracts/service-config.ts';
import type { Container } from '../../../../core/contracts/structure.ts';
import { admitContainer } from '../../../../core/policy/planner/admission.ts';
import { accountingIssues } from '../../../../core/policy/planner/capacity.ts';
import { Planner } from '../../../../functions/scaler/scaler-pass.ts';
import { aContainer, unadmitted } from '../../../support/containers.ts';
import { FakeOrderSender, FakeScalerState } from '../../../support/fake-scaler-state.ts';
import { aHost, aRequest, spec } from '../../../support/planner-fixtures.ts';

const NOW = 1_001_000; // requests from aRequest are stamped 1_000_000

function hostWith(name: string, containers: Container[]): HostState {
  let host = aHost({ name, queueUrl: `https://sqs.local/q-${name}`, memMiB: 8192 });
  for (const c of containers) {
    const out = admitContainer(host, { ...c, host: name }, NOW - 60_000);
    if (!out.ok) throw new Error(out.reason);
    host = out.host;
  }
  return host;
}

function setup(overrides: Partial<ReturnType<typeof defaultConfig<'scaler'>>> = {}) {
  const state = new FakeScalerState();
  const orders = new FakeOrderSender();
  state.putHost(
    hostWith('h1', [
      aContainer('a', 'h1', {
        resources: { cpu: spec(200, 100, 400), mem: spec(1024, 256, 4096, false) },
        ...unadmitted(),
      }),
      aContainer('b', 'h1', { resources: { cpu: spec(200, 100, 400) }, ...unadmitted() }),
    ]),
  );
  state.putHost(
    hostWith('h2', [aContainer('c', 'h2', { resources: { cpu: spec(100, 100, 400) }, ...unadmitted() })]),
  );
  const planner = new Planner({
    state,
    activity: state,
    orders,
    config: () => ({ ...defaultConfig('scaler'), ...overrides }),
  });
  return { state, orders, planner };
}

describe('Planner.submit', () => {
  it('commits each host once and sends each order to its host queue', async () => {
    const { state, orders, planner } = setup();
    const out = await planner.submit(
      [aRequest('a', 'cpu', 100), aRequest('b', 'cpu', -50), aRequest('c', 'cpu', 100)],
      NOW,
    );
    expect(out).toEqual({ accepted: 3, rejected: [], orders: 3 });
    expect(state.commits).toBe(2);
    expect(orders.sent.map((s) => [s.queueUrl, s.order.container, s.order.limits.cpuShares]).sort()).toEqual([
      ['https://sqs.local/q-h1', 'a', 300],
      ['https://sqs.local/q-h1', 'b', 150],
      ['https://sqs.local/q-h2', 'c', 200],
    ]);
    expect(state.hosts.get('h1')?.version).toBe(3); // 2 admissions + 1 commit
    expect(state.activity.filter((a) => a.kind === 'order')).toHaveLength(3);
  });

  it('rejects bad input with reasons, counts it and commits nothing', async () => {
    const { state, orders, planner } = setup();
    state.locators.set('lost', 'h9'); // locator to a host that does not exist
    const out = await planner.submit(
      [
        aRequest('ghost', 'cpu', 10, { id: 'unknown' }),
        aRequest('lost', 'cpu', 10, { id: 'nohost' }),
        aRequest('a', 'mem', 100, { id: 'unguarded' }),
        aRequest('b', 'cpu', 1.5, { id: 'fraction' }),
        aRequest('b', 'cpu', 10, { id: 'negpair', pairStructure: 'a', amount: -10 }),
      ],
      NOW,
    );
    expect(out.accepted).toBe(0);
    expect(out.rejected).toEqual([
      { id: 'fraction', reason: 'invalid amount: Invalid input: expected int, received number' },
      { id: 'negpair', reason: 'invalid amount: a pair request moves a positive amount' },
      { id: 'unknown', reason: 'unknown structure ghost' },
      { id: 'nohost', reason: 'unknown host h9 (of lost)' },
      { id: 'unguarded', reason: 'unguarded resource mem of a' },
    ]);
    expect(state.commits).toBe(0);
    expect(orders.sent).toEqual([]);
  });

  it('lets an operator scale an unguarded resource', async () => {
    const { planner } = setup();
    const out = await planner.submit([aRequest('a', 'mem', 100, { source: 'operator' })], NOW);
    expect(out.accepted).toBe(1);
  });

  it('re-plans a host from fresh state when its commit loses a race', async () => {
    const { state, orders, planner } = setup();
    // Another writer takes 500 shares on h1 just before our first commit.
    let raced = false;
    state.beforeCommit = (host) => {
      if (host !== 'h1' || raced) return;
      raced = true;
      const h = state.hosts.get('h1') as HostState;
      const other = admitContainer(
        h,
        aContainer('z', 'h1', { resources: { cpu: spec(350, 100, 400) }, ...unadmitted() }),
        NOW,
      );
      if (!other.ok) throw new Error(other.reason);
      state.putHost(other.host);
    };
    // a wants +200: before the race 400 free; after it 800 − 200 − 200 − 350 = 50 free
    const out = await planner.submitDetailed([aRequest('a', 'cpu', 200)], NOW);
    expect(out.retries).toBe(1);
    const h1 = state.hosts.get('h1') as HostState;
    expect(h1.containers.a?.resources.cpu?.current).toBe(250); // 200 + 50
    expect(accountingIssues(h1)).toEqual([]);
    expect(orders.sent[0]?.order.limits.cpuShares).toBe(250);
  });

  it('keeps the committed change when sending fails, for the resend sweep', async () => {
    const { state, orders, planner } = setup();
    orders.failing = true;
    const out = await planner.submitDetailed([aRequest('a', 'cpu', 100)], NOW);
    expect(out).toMatchObject({ accepted: 1, orders: 0, unsent: 1 });
    expect(state.hosts.get('h1')?.containers.a?.resources.cpu?.current).toBe(300);
  });

  it('plans but writes nothing in DRY_RUN', async () => {
    const { state, orders, planner } = setup({ DRY_RUN: true });
    const out = await planner.submit([aRequest('a', 'cpu', 100)], NOW);
    expect(out.accepted).toBe(1);
    expect(state.commits).toBe(0);
    expect(orders.sent).toEqual([]);
  });

  it('spreads an application request over containers on several hosts', async () => {
    const { state, orders, planner } = setup();
    state.applications.set('app', {
      name: 'app',
      user: null,
      guard: true,
      state: 'running',
      containers: ['b', 'c'],
      resources: {},
      version: 0,
    });
    const out = await planner.submit([aRequest('app', 'cpu', 20, { structureType: 'application' })], NOW);
    expect(out.accepted).toBe(1);
    // no usage known: headroom = current − min; c (0, 5, 10, 15) stays below b (100) for all four slices of 5
    expect(state.hosts.get('h2')?.containers.c?.resources.cpu?.current).toBe(120);
    expect(orders.sent.map((s) => s.order.host)).toEqual(['h2']);
  });

  it("plans from the producer's host states without reading them; a stale one is re-planned from the stored state", async () => {
    const { state, orders, planner } = setup();
    const stale = structuredClone(state.hosts.get('h1') as HostState);
    const fresh = structuredClone(state.hosts.get('h2') as HostState);
    // h1 changed since the producer read it: a's share went 200 → 250 (version + 1)
    const h1 = state.hosts.get('h1') as HostState;
    const a = h1.containers.a as Container;
    state.hosts.set('h1', {
      ...h1,
      version: h1.version + 1,
      containers: { ...h1.containers, a: { ...a, resources: { ...a.resources, cpu: spec(250, 100, 400) } } },
    });
    const gets: string[] = [];
    const get = state.getHost.bind(state);
    state.getHost = async (name: string) => {
      gets.push(name);
      return get(name);
    };
    const out = await planner.submitDetailed([aRequest('a', 'cpu', 100), aRequest('c', 'cpu', 100)], NOW, {
      hosts: new Map([
        ['h1', stale],
        ['h2', fresh],
      ]),
    });
    expect(gets).toEqual([]); // the fresh h1 came with the refused commit
    expect(out).toMatchObject({ accepted: 2, retries: 1 });
    expect(state.hosts.get('h1')?.containers.a?.resources.cpu?.current).toBe(350); // 250 + 100
    expect(state.hosts.get('h2')?.containers.c?.resources.cpu?.current).toBe(200);
    expect(orders.sent).toHaveLength(2);
  });

  it("takes the producer's host hints instead of the locators, and locates again a hint that is wrong", async () => {
    const { state, orders, planner } = setup();
    const reads: string[] = [];
    const locate = state.locateContainer.bind(state);
    state.locateContainer = async (name: string) => {
      reads.push(name);
      return locate(name);
    };
    const hostOf = new Map([
      ['a', 'h1'], // right
      ['b', 'h2'], // wrong: b lives on h1
      ['c', 'h9'], // no such host
    ]);
    const out = await planner.submit(
      [aRequest('a', 'cpu', 100), aRequest('b', 'cpu', -50), aRequest('c', 'cpu', 100)],
      NOW,
      { hostOf },
    );
    expect(out).toEqual({ accepted: 3, rejected: [], orders: 3 });
    expect(reads.sort()).toEqual(['b', 'c']);
    expect(orders.sent.map((s) => [s.order.host, s.order.container]).sort()).toEqual([
      ['h1', 'a'],
      ['h1', 'b'],
      ['h2', 'c'],
    ]);
  });
});
