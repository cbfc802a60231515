import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { HostState } from '../../../../../core/contracts/host.ts';
import type { OrderLimits } from '../../../../../core/contracts/order.ts';
import type { ScaleRequest } from '../../../../../core/contracts/request.ts';
import { defaultConfig } from '../../../../../core/contracts/service-config.ts';
import type { Application } from '../../../../../core/contracts/structure.ts';
import { RESOURCES, type Resource } from '../../../../../core/contracts/units.ts';
import { admitContainer } from '../../../../../core/policy/planner/admission.ts';
import { accountingIssues } from '../../../../../core/policy/planner/capacity.ts';
import { orderLimits } from '../../../../../core/policy/planner/orders.ts';
import { plan } from '../../../../../core/policy/planner/plan.ts';
import { aContainer, unadmitted } from '../../../../support/containers.ts';
import { aHost, spec } from '../../../../support/planner-fixtures.ts';

const NOW = 5_000_000;
const config = defaultConfig('scaler');

interface World {
  hosts: HostState[];
  names: string[];
  requests: ScaleRequest[];
  applications: Record<string, Application>;
}

const resourceArb = fc.constantFrom<Resource>(...RESOURCES);

const specArb = fc
  .tuple(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 600 }), fc.integer({ min: 0, max: 600 }))
  .map(([min, a, b]) => {
    const max = min + Math.max(a, b);
    const current = min + Math.min(a, b);
    return spec(current, min, max);
  });

const containerArb = fc.record({
  resources: fc.dictionary(resourceArb, specArb, { minKeys: 1, maxKeys: 5 }),
});

const hostArb = fc.record({
  cores: fc.integer({ min: 1, max: 4 }),
  threads: fc.integer({ min: 1, max: 2 }),
  memMiB: fc.integer({ min: 256, max: 4096 }),
  net: fc.option(fc.integer({ min: 50, max: 2000 }), { nil: null }),
  placement: fc.constantFrom<'pinned' | 'quota'>('pinned', 'quota'),
  degraded: fc.boolean(),
  containers: fc.array(containerArb, { minLength: 1, maxLength: 6 }),
});

const requestArb = (names: string[]) =>
  fc.record({
    target: fc.integer({ min: 0, max: names.length + 1 }), // last index = the application
    pair: fc.option(fc.integer({ min: 0, max: names.length - 1 }), { nil: null, freq: 5 }),
    resource: resourceArb,
    field: fc.constantFrom<'current' | 'max'>('current', 'current', 'max'),
    amount: fc.integer({ min: -800, max: 800 }).filter((n) => n !== 0),
    priority: fc.integer({ min: -1, max: 2 }),
    age: fc.integer({ min: 0, max: 40_000 }),
    usage: fc.option(fc.integer({ min: 0, max: 2000 }), { nil: null }),
  });

const worldArb: fc.Arbitrary<World> = fc.array(hostArb, { minLength: 1, maxLength: 3 }).chain((hostSpecs) => {
  const hosts: HostState[] = [];
  const names: string[] = [];
  hostSpecs.forEach((hs, hi) => {
    let host = aHost({
      name: `h${hi}`,
      sockets: 2,
      coresPerSocket: hs.cores,
      threads: hs.threads,
      memMiB: hs.memMiB,
      netMbps: hs.net,
      placement: hs.placement,
    });
    hs.containers.forEach((c, ci) => {
      const out = admitContainer(
        host,
        aContainer(`c${hi}x${ci}`, host.name, { resources: c.resources, ...unadmitted() }),
        NOW - 60_000,
      );
      if (out.ok) {
        host = out.host;
        names.push(`c${hi}x${ci}`);
      }
    });
    hosts.push({ ...host, degraded: hs.degraded });
  });
  const safeNames = names.length === 0 ? ['ghost'] : names;
  return fc.array(requestArb(safeNames), { maxLength: 25 }).map((raw) => {
    const requests: ScaleRequest[] = raw.map((r, i) => {
      const isApp = r.target === safeNames.length;
      const structure = isApp ? 'app' : (safeNames[Math.min(r.target, safeNames.length - 1)] as string);
      const pair = r.pair === null || isApp ? null : (safeNames[r.pair] as string);
      return {
        id: `q${i}`,
        structure,
        structureType: isApp ? 'application' : 'container',
        resource: r.resource,
        field: pair === null ? r.field : 'current',
        amount: pair === null ? r.amount : Math.abs(r.amount),
        priority: r.priority,
        timestamp: NOW - r.age,
        pairStructure: pair === structure ? null : pair,
        source: 'guardian',
        usage: r.usage,
        reasons: [],
      };
    });
    const applications: Record<string, Application> = {
      app: {
        name: 'app',
        user: null,
        guard: true,
        state: 'running',
        containers: names.filter((_, i) => i % 2 === 0),
        resources: {},
        version: 0,
      },
    };
    return { hosts, names, requests, applications };
  });
});

function memFloorFor(world: World, name: string): number | null {
  // every live observation of the container's memory counts: the floor is the highest
  const usages = world.requests
    .filter(
      (r) => r.structure === name && r.resource === 'mem' && r.usage !== null && NOW - r.timestamp <= 30_000,
    )
    .map((r) => r.usage as number);
  return usages.length === 0 ? null : Math.max(...usages);
}

describe('plan: invariants over random hosts and requests', () => {
  it('never over-commits a host, keeps containers in [min, max] and accounting exact', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        const out = plan({
          hosts: world.hosts,
          requests: world.requests,
          applications: world.applications,
          config,
          now: NOW,
        });
        for (const h of out.hosts) expect(accountingIssues(h)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('never lowers memory below usage plus the margin', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        const out = plan({
          hosts: world.hosts,
          requests: world.requests,
          applications: world.applications,
          config,
          now: NOW,
        });
        for (const h of out.hosts) {
          const before = world.hosts.find((x) => x.name === h.name) as HostState;
          for (const [name, c] of Object.entries(h.containers)) {
            const was = before.containers[name]?.resources.mem?.current;
            const now = c.resources.mem?.current;
            const usage = memFloorFor(world, name);
            if (was === undefined || now === undefined || usage === null || now >= was) continue;
            expect(now).toBeGreaterThanOrEqual(usage + config.MEM_SAFETY_MARGIN_MIB);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('changes nothing when re-planned with no requests, and its orders match the committed state', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        const out = plan({
          hosts: world.hosts,
          requests: world.requests,
          applications: world.applications,
          config,
          now: NOW,
        });
        const committed = world.hosts.map((h) => out.hosts.find((x) => x.name === h.name) ?? h);
        const again = plan({ hosts: committed, requests: [], config, now: NOW + 1 });
        expect(again.hosts).toEqual([]);
        expect(again.orders).toEqual([]);
        for (const o of out.orders) {
          const host = committed.find((h) => h.name === o.host) as HostState;
          const c = host.containers[o.container];
          expect(c?.desiredVersion).toBe(o.desiredVersion);
          expect(o.limits).toEqual(orderLimits(c as never, host.cpuPlacement));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('orders are declarative: applying the same order twice leaves the same limits', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        const out = plan({
          hosts: world.hosts,
          requests: world.requests,
          applications: world.applications,
          config,
          now: NOW,
        });
        const agent = new Map<string, { version: number; limits: OrderLimits }>();
        const apply = (o: (typeof out.orders)[number]) => {
          const seen = agent.get(o.container);
          if (seen !== undefined && seen.version >= o.desiredVersion) return;
          agent.set(o.container, { version: o.desiredVersion, limits: { ...seen?.limits, ...o.limits } });
        };
        for (const o of out.orders) apply(o);
        const once = structuredClone([...agent.entries()]);
        for (const o of out.orders) apply(o);
        expect([...agent.entries()]).toEqual(once);
      }),
      { numRuns: 100 },
    );
  });

  it('down-before-up: scale-downs listed after scale-ups still free capacity first without over-commit', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        const reversed = [...world.requests].reverse();
        const a = plan({
          hosts: world.hosts,
          requests: world.requests,
          applications: world.applications,
          config,
          now: NOW,
        });
        const b = plan({
          hosts: world.hosts,
          requests: reversed,
          applications: world.applications,
          config,
          now: NOW,
        });
        for (const h of [...a.hosts, ...b.hosts]) expect(accountingIssues(h)).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });
});
