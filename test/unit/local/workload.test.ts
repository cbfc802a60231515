import { describe, expect, it } from '@jest/globals';
import type { Phase } from '../../../local/containers.ts';
import { phasePlan, runPhases } from '../../../local/workload.ts';
import { ManualClock } from '../../support/manual-clock.ts';

function recorder() {
  const phases: { at: number; phase: Phase }[] = [];
  return {
    phases,
    container: (clock: ManualClock) => ({
      setPhase: async (phase: Phase) => void phases.push({ at: clock.now(), phase }),
    }),
  };
}

describe('phasePlan', () => {
  it('goes idle → CPU burst → memory growth → idle with the given lengths', () => {
    const plan = phasePlan({
      idleSeconds: 5,
      cpuSeconds: 20,
      cpuWorkers: 2,
      memSeconds: 30,
      memTotalMiB: 128,
      memStepMiBPerSecond: 16,
      idleAfterSeconds: 10,
    });
    expect(plan.map((p) => [p.name, p.durationMs])).toEqual([
      ['idle', 5_000],
      ['cpu-burst', 20_000],
      ['memory-growth', 30_000],
      ['idle-after', 10_000],
    ]);
    expect(plan[1]?.phase).toEqual({ kind: 'cpu', workers: 2 });
    expect(plan[2]?.phase).toEqual({ kind: 'mem', totalMiB: 128, stepMiBPerSecond: 16 });
  });

  it('drops phases of zero length', () => {
    expect(phasePlan({ idleSeconds: 0, memSeconds: 0 }).map((p) => p.name)).toEqual([
      'cpu-burst',
      'idle-after',
    ]);
  });

  it('rejects a negative length or a burst without workers, naming the field', () => {
    expect(() => phasePlan({ cpuSeconds: -1 })).toThrow(/phases\.cpuSeconds/);
    expect(() => phasePlan({ cpuWorkers: 0 })).toThrow(/phases\.cpuWorkers/);
  });
});

describe('runPhases', () => {
  it('switches every container at each phase boundary and ends idle', async () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    const a = recorder();
    const b = recorder();
    const plan = phasePlan({ idleSeconds: 5, cpuSeconds: 10, memSeconds: 10, idleAfterSeconds: 5 });
    const entered: string[] = [];
    const done = runPhases([a.container(clock), b.container(clock)], plan, {
      signal: new AbortController().signal,
      clock,
      onPhase: (name) => entered.push(name),
    });
    await clock.advance(30_000);
    expect(await done).toBe(4);
    expect(entered).toEqual(['idle', 'cpu-burst', 'memory-growth', 'idle-after']);
    expect(a.phases.map((p) => [p.at - t0, p.phase.kind])).toEqual([
      [0, 'idle'],
      [5_000, 'cpu'],
      [15_000, 'mem'],
      [25_000, 'idle'],
      [30_000, 'idle'], // left idle at the end
    ]);
    expect(b.phases).toEqual(a.phases);
  });

  it('stops at once on abort and leaves the containers idle', async () => {
    const clock = new ManualClock();
    const a = recorder();
    const ac = new AbortController();
    const done = runPhases([a.container(clock)], phasePlan({ idleSeconds: 1 }), {
      signal: ac.signal,
      clock,
      rounds: Number.POSITIVE_INFINITY,
    });
    await clock.advance(20_000); // inside the CPU burst
    ac.abort();
    expect(await done).toBe(2);
    expect(a.phases.at(-1)?.phase).toEqual({ kind: 'idle' });
  });
});
