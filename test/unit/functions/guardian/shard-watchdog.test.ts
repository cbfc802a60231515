import { describe, expect, it } from '@jest/globals';
import { countGuardedContainers } from '../../../../functions/guardian/shard-watchdog.ts';
import { aContainer } from '../../../support/containers.ts';
import { FakeGuardianState } from '../../../support/fake-guardian-state.ts';
import { aHost } from '../../../support/guardian-fixtures.ts';

/** `hosts` hosts of 3 containers, the first of each not guarded; one more host whose state is broken. */
function fleet(hosts: number): FakeGuardianState {
  const state = new FakeGuardianState();
  for (let h = 0; h < hosts; h++) {
    const host = `h${h}`;
    state.putHost(
      aHost(
        host,
        [0, 1, 2].map((c) => aContainer(`${host}-c${c}`, host, { guard: c > 0 })),
      ),
    );
  }
  state.hosts.set('broken', { name: 'broken', containers: 'none' });
  return state;
}

describe('countGuardedContainers (the watchdog sizing a fleet with no shard record)', () => {
  it('counts the guarded containers of every readable host at container level', async () => {
    // 1,001 hosts × 2 guarded = 2,002; the broken host is skipped, as the tick skips it
    expect(await countGuardedContainers(fleet(1001), 'container')).toBe(2002);
  });

  it('counts every container at application level (a shard reads all of its hosts)', async () => {
    expect(await countGuardedContainers(fleet(10), 'application')).toBe(30); // 10 × 3
  });

  it('reads the host states a batch of 500 hosts at a time', async () => {
    const state = fleet(1001);
    await countGuardedContainers(state, 'container');
    // one listing, then 1,002 hosts in 3 batches (500 + 500 + 2)
    expect(state.counters.reads).toBe(1 + 3);
  });
});
