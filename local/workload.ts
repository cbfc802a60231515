/**
 * The demo's phased workload: idle → CPU burst → memory growth → idle, with
 * configurable phase lengths, driven from the host onto any number of demo
 * containers (see containers.ts). The timing lives here, with an injectable
 * clock; the containers only obey their phase file.
 *
 *   const plan = phasePlan({ cpuSeconds: 60 });
 *   await runPhases([c1, c2], plan, { signal, onPhase: (name, p) => log(...) });
 */
import { systemClock } from '../adapters/clock.ts';
import { ValidationError } from '../core/errors.ts';
import type { Clock } from '../core/ports/clock.ts';
import type { Phase, WorkloadContainer } from './containers.ts';

export interface PhasePlanOptions {
  idleSeconds: number;
  cpuSeconds: number;
  /** Busy loops during the CPU burst (≈ 100 shares each). */
  cpuWorkers: number;
  memSeconds: number;
  memTotalMiB: number;
  memStepMiBPerSecond: number;
  idleAfterSeconds: number;
}

export const DEFAULT_PHASES: PhasePlanOptions = {
  idleSeconds: 30,
  cpuSeconds: 60,
  cpuWorkers: 1,
  memSeconds: 60,
  memTotalMiB: 256,
  memStepMiBPerSecond: 8,
  idleAfterSeconds: 60,
};

export interface PlannedPhase {
  name: 'idle' | 'cpu-burst' | 'memory-growth' | 'idle-after';
  phase: Phase;
  durationMs: number;
}

export function phasePlan(overrides: Partial<PhasePlanOptions> = {}): PlannedPhase[] {
  const o = { ...DEFAULT_PHASES, ...overrides };
  for (const [field, value] of Object.entries(o)) {
    const min = field.endsWith('Seconds') ? 0 : 1;
    if (!Number.isInteger(value) || value < min) {
      throw new ValidationError('phases', [{ path: field, message: `must be an integer ≥ ${min}` }]);
    }
  }
  const plan: PlannedPhase[] = [
    { name: 'idle', phase: { kind: 'idle' }, durationMs: o.idleSeconds * 1000 },
    { name: 'cpu-burst', phase: { kind: 'cpu', workers: o.cpuWorkers }, durationMs: o.cpuSeconds * 1000 },
    {
      name: 'memory-growth',
      phase: { kind: 'mem', totalMiB: o.memTotalMiB, stepMiBPerSecond: o.memStepMiBPerSecond },
      durationMs: o.memSeconds * 1000,
    },
    { name: 'idle-after', phase: { kind: 'idle' }, durationMs: o.idleAfterSeconds * 1000 },
  ];
  return plan.filter((p) => p.durationMs > 0);
}

/**
 * Puts every container through the plan (all at once), `rounds` times (default
 * once; Infinity repeats until aborted). Stops early on abort, leaving the
 * containers idle. Resolves with the number of phases entered.
 */
export async function runPhases(
  containers: readonly Pick<WorkloadContainer, 'setPhase'>[],
  plan: readonly PlannedPhase[],
  opts: {
    signal: AbortSignal;
    clock?: Clock;
    rounds?: number;
    onPhase?: (name: PlannedPhase['name'], at: number) => void;
  },
): Promise<number> {
  const clock = opts.clock ?? systemClock;
  const rounds = opts.rounds ?? 1;
  let entered = 0;
  try {
    for (let round = 0; round < rounds && !opts.signal.aborted; round++) {
      for (const step of plan) {
        if (opts.signal.aborted) break;
        await Promise.all(containers.map((c) => c.setPhase(step.phase)));
        entered += 1;
        opts.onPhase?.(step.name, clock.now());
        await clock.sleep(step.durationMs, opts.signal);
      }
    }
  } finally {
    await Promise.all(containers.map((c) => c.setPhase({ kind: 'idle' }).catch(() => undefined)));
  }
  return entered;
}
