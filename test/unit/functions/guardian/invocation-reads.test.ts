import { describe, expect, it } from '@jest/globals';
import { silentLogger } from '../../../../adapters/logger.ts';
import { defaultConfig, type GuardianConfig } from '../../../../core/contracts/service-config.ts';
import { DEFAULT_RULES } from '../../../../core/policy/default-rules.ts';
import { newChainState, runChainedTick } from '../../../../functions/guardian/chain.ts';
import { withInvocationReads } from '../../../../functions/guardian/invocation-reads.ts';
import { RecordingRequestSink } from '../../../../functions/guardian/recording-request-sink.ts';
import { aContainer } from '../../../support/containers.ts';
import { FakeGuardianState } from '../../../support/fake-guardian-state.ts';
import { aHost, sameUsage } from '../../../support/guardian-fixtures.ts';

/** The fake, counting config and rule reads apart. */
class CountingState extends FakeGuardianState {
  configReads = 0;
  ruleReads = 0;
  failNextConfig = false;
  override async loadConfig(fallback: GuardianConfig) {
    this.configReads += 1;
    if (this.failNextConfig) {
      this.failNextConfig = false;
      throw new Error('throttled');
    }
    return super.loadConfig(fallback);
  }
  override async loadRules(config: GuardianConfig) {
    this.ruleReads += 1;
    return super.loadRules(config);
  }
}

const T0 = 1_800_000_000_000;

function fleet() {
  const state = new CountingState();
  state.config = { ...defaultConfig('guardian'), WINDOW_TIMELAPSE: 10, WINDOW_DELAY: 0 };
  state.rules = [...DEFAULT_RULES];
  state.putHost(aHost('h1', [aContainer('c1', 'h1')]));
  return state;
}

const chainDeps = (state: CountingState) => ({
  state,
  metrics: sameUsage({ cpu: 100 }),
  sink: new RecordingRequestSink(silentLogger),
  logger: silentLogger,
  clock: { now: () => T0, sleep: async () => {} },
  scheduler: { schedule: async () => {} },
  proc: 'p1',
});

describe('withInvocationReads', () => {
  it('reads the config and the rules once for every tick of one invocation', async () => {
    const state = fleet();
    const reads = withInvocationReads(state);
    const a = await reads.loadConfig(defaultConfig('guardian'));
    const b = await reads.loadConfig(defaultConfig('guardian'));
    expect(b).toBe(a);
    await reads.loadRules(a.config);
    await reads.loadRules(a.config);
    expect([state.configReads, state.ruleReads]).toEqual([1, 1]);
    // everything else is the store's own
    expect(await reads.listHosts()).toEqual(['h1']);
  });

  it('a chained tick in a fresh process reads its config once instead of twice', async () => {
    const bare = fleet();
    await runChainedTick(chainDeps(bare), newChainState(), { chain: 'c', at: T0 });
    expect(bare.configReads).toBe(2); // before the lease (the window), then in the tick
    const cached = fleet();
    const out = await runChainedTick(
      { ...chainDeps(cached), state: withInvocationReads(cached) },
      newChainState(),
      { chain: 'c', at: T0 },
    );
    expect(out.ran).toBe(true);
    expect([cached.configReads, cached.ruleReads]).toEqual([1, 1]);
  });

  it('tries a failed read again instead of keeping the failure', async () => {
    const state = fleet();
    state.failNextConfig = true;
    const reads = withInvocationReads(state);
    await expect(reads.loadConfig(defaultConfig('guardian'))).rejects.toThrow('throttled');
    expect((await reads.loadConfig(defaultConfig('guardian'))).config.WINDOW_TIMELAPSE).toBe(10);
    expect(state.configReads).toBe(2);
  });
});

describe('a shard tick’s full read', () => {
  it('reads its hosts eventually consistent; the unsharded tick strongly, as before', async () => {
    const { runTick } = await import('../../../../functions/guardian/tick.ts');
    const { shardOf } = await import('../../../../core/policy/shards.ts');
    const state = fleet();
    for (const h of ['h2', 'h3', 'h4', 'h5']) state.putHost(aHost(h, [aContainer(`${h}-c`, h)]));
    const deps = {
      state,
      metrics: sameUsage({ cpu: 100 }),
      sink: new RecordingRequestSink(silentLogger),
      logger: silentLogger,
    };
    await runTick(deps, T0);
    expect(state.hostReads).toEqual(['strong', 'strong', 'strong', 'strong', 'strong']);
    state.hostReads.length = 0;
    const mine = ['h1', 'h2', 'h3', 'h4', 'h5'].filter((h) => shardOf(h, 2) === 1);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.length).toBeLessThan(5);
    const report = await runTick({ ...deps, shard: { index: 1, count: 2 } }, T0 + 10_000);
    expect(state.hostReads).toEqual(mine.map(() => 'eventual'));
    expect(report.decided.sort()).toEqual(mine.map((h) => (h === 'h1' ? 'c1' : `${h}-c`)).sort()); // only its hosts
  });
});
