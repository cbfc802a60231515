/**
 * The ReBalancer between applications (issue 19, item 8), through the real planner:
 * the donor application gives what the receiver takes, so their total is conserved
 * and the host's free capacity does not pay for the receiver's growth.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { HostState } from '../../../../../core/contracts/host.ts';
import { defaultConfig } from '../../../../../core/contracts/service-config.ts';
import type { Application } from '../../../../../core/contracts/structure.ts';
import { admitContainer } from '../../../../../core/policy/planner/admission.ts';
import { plan } from '../../../../../core/policy/planner/plan.ts';
import { aContainer, unadmitted } from '../../../../support/containers.ts';
import { aHost, aRequest, spec } from '../../../../support/planner-fixtures.ts';

const NOW = 5_000_000;
const config = defaultConfig('scaler');

function anApp(name: string, containers: string[]): Application {
  return { name, user: null, guard: true, state: 'running', containers, resources: {}, version: 0 };
}

function world(donor: Array<[number, number]>, receiver: Array<[number, number]>) {
  let host: HostState = aHost({ name: 'h1', sockets: 2, coresPerSocket: 8, threads: 1, memMiB: 65_536 });
  const add = (name: string, [current, max]: [number, number]) => {
    const out = admitContainer(
      host,
      aContainer(name, 'h1', {
        resources: { cpu: spec(current, 10, max), mem: spec(256, 64, 1024) },
        ...unadmitted(),
      }),
      NOW - 60_000,
    );
    if (!out.ok) throw new Error(out.reason);
    host = out.host;
  };
  for (const [i, c] of donor.entries()) add(`d${i}`, c);
  for (const [i, c] of receiver.entries()) add(`r${i}`, c);
  return {
    host,
    applications: {
      donor: anApp(
        'donor',
        donor.map((_, i) => `d${i}`),
      ),
      receiver: anApp(
        'receiver',
        receiver.map((_, i) => `r${i}`),
      ),
    },
  };
}

const total = (h: HostState, prefix: string) =>
  Object.values(h.containers)
    .filter((c) => c.name.startsWith(prefix))
    .reduce((s, c) => s + (c.resources.cpu?.current ?? 0), 0);

const containerArb = fc
  .tuple(fc.integer({ min: 10, max: 300 }), fc.integer({ min: 0, max: 300 }))
  .map(([current, extra]) => [current, current + extra] as [number, number]);

describe('an application pair request', () => {
  it('takes from the donor what it gives the receiver (the report: donor 300 → 240, receiver 100 → 160)', () => {
    const w = world([[300, 400]], [[100, 400]]);
    const p = plan({
      hosts: [w.host],
      requests: [
        aRequest('receiver', 'cpu', 60, {
          structureType: 'application',
          pairStructure: 'donor',
          timestamp: NOW,
        }),
      ],
      applications: w.applications,
      config,
      now: NOW,
    });
    expect(p.rejected).toEqual([]);
    const next = p.hosts[0] as HostState;
    expect(total(next, 'd')).toBe(240); // 300 − 60
    expect(total(next, 'r')).toBe(160); // 100 + 60
    expect(next.capacity.cpu.free).toBe(w.host.capacity.cpu.free); // the host's free capacity did not pay
  });

  it('conserves the two applications’ total and the host’s free capacity, whatever the amounts', () => {
    fc.assert(
      fc.property(
        fc.array(containerArb, { minLength: 1, maxLength: 3 }),
        fc.array(containerArb, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 500 }),
        (donor, receiver, amount) => {
          const w = world(donor, receiver);
          const p = plan({
            hosts: [w.host],
            requests: [
              aRequest('receiver', 'cpu', amount, {
                structureType: 'application',
                pairStructure: 'donor',
                timestamp: NOW,
              }),
            ],
            applications: w.applications,
            config,
            now: NOW,
          });
          const next = p.hosts[0] ?? w.host;
          expect(total(next, 'd') + total(next, 'r')).toBe(total(w.host, 'd') + total(w.host, 'r'));
          expect(total(next, 'r')).toBeGreaterThanOrEqual(total(w.host, 'r'));
          expect(total(next, 'r') - total(w.host, 'r')).toBeLessThanOrEqual(amount);
          expect(next.capacity.cpu.free).toBe(w.host.capacity.cpu.free);
        },
      ),
      { numRuns: 200 },
    );
  });
});
