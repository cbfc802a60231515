/**
 * `npm run bench -- loop`: the whole loop's figures, measured on this machine.
 *
 *   loop.reaction_p50_s / loop.reaction_p95_s   CPU step in a container → higher cfs quota (local/reaction.ts)
 *   loop.scaledown_p50_s                        load stopped → lower quota
 *   loop.utilisation_gain, loop.overhead_pct, loop.oom_kills   control quality vs. a fixed allocation at max
 *   loop.cost_per_1000_usd_month                counted requests per tick → core/cost/model.ts
 *
 * Every figure comes from running the loop (scheduler, Guardian + planner ticks,
 * host agent, real containers); nothing is printed that was not measured. Until
 * the composed loop exists (`local/loop.ts` exporting `startLoop`, see
 * LoopUnderTest below), this group says what is missing and exits non-zero.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countsFromRun, estimateMonthlyCost, type LoopCounts } from '../core/cost/model.ts';
import {
  CGROUP_V1_ROOT,
  createLxcWorkload,
  createPlainCgroupWorkload,
  detectHostSupport,
} from '../local/containers.ts';
import { cgroupFileReader, measureSteps, quotaToShares } from '../local/reaction.ts';
import { type Emit, median, percentile } from './figure.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** What the composed loop must offer the benchmark (local/loop.ts). */
export interface LoopUnderTest {
  /** Guard a container (already created) so the loop scales it. */
  guard(container: { name: string; cgroupPath: string }): Promise<void>;
  /** Requests counted since start, for the cost figure. */
  counters(): {
    ticks: number;
    containers: number;
    readUnits: number;
    writeUnits: number;
    sqsRequests: number;
    logBytes: number;
    fixedPerTick: { readUnits: number; writeUnits: number; logBytes: number };
    /** The deployment's per-host and per-function usage, as configured. */
    deployment: Pick<LoopCounts, 'perHostMonth' | 'functions'>;
    containersPerHost: number;
    tickSeconds: number;
  };
  stop(): Promise<void>;
}

interface LoopModule {
  startLoop(opts: { config: 'default' | 'tuned'; signal: AbortSignal }): Promise<LoopUnderTest>;
}

const STEPS = Number(process.env.BENCH_LOOP_STEPS || 10);

export async function run(emit: Emit): Promise<void> {
  const missing: string[] = [];
  if (!existsSync(join(root, 'local', 'loop.ts')))
    missing.push('local/loop.ts (the composed loop: scheduler + ticks + agent)');
  const support = await detectHostSupport();
  if (support.mode === 'dry-run') missing.push(`real cgroups (${support.reason})`);
  if (missing.length > 0) {
    process.stderr.write(
      `bench loop: cannot measure yet — missing: ${missing.join('; ')}.\n` +
        '  Ready: local/scheduler.ts, local/containers.ts, local/workload.ts, local/reaction.ts, local/quality.ts, core/cost/model.ts.\n' +
        '  No figure printed (figures are only printed when measured).\n',
    );
    process.exitCode = 3;
    return;
  }
  const { startLoop } = (await import(join(root, 'local', 'loop.ts'))) as LoopModule;
  for (const config of ['default', 'tuned'] as const) {
    const ac = new AbortController();
    const loop = await startLoop({ config, signal: ac.signal });
    const name = `sc-bench-${config}-${process.pid}`;
    const container =
      support.mode === 'lxc' ? await createLxcWorkload(name) : await createPlainCgroupWorkload(name);
    try {
      await loop.guard(container);
      const quota = cgroupFileReader(CGROUP_V1_ROOT, container.cgroupPath, 'cpu', 'cpu.cfs_quota_us');
      const r = await measureSteps({
        container,
        read: async () => quotaToShares(await quota()),
        steps: STEPS,
        timeoutMs: 120_000,
        settleMs: 5_000,
        signal: ac.signal,
        onResult: (step, dir, res) =>
          process.stderr.write(
            `  ${config} step ${step} ${dir}: ${res.ok ? `${res.delayMs} ms` : res.reason}\n`,
          ),
      });
      const suffix = config === 'default' ? '' : '_tuned';
      if (r.upMs.length > 0) {
        const extra = { config, steps: r.upMs.length, failures: r.failures.length };
        emit({ name: `loop.reaction_p50_s${suffix}`, value: median(r.upMs) / 1000, unit: 's', ...extra });
        emit({
          name: `loop.reaction_p95_s${suffix}`,
          value: percentile(r.upMs, 95) / 1000,
          unit: 's',
          ...extra,
        });
      }
      if (r.downMs.length > 0) {
        emit({ name: `loop.scaledown_p50_s${suffix}`, value: median(r.downMs) / 1000, unit: 's', config });
      }
      if (config === 'default') {
        const c = loop.counters();
        const counts: LoopCounts = { ...countsFromRun(c), ...c.deployment };
        const estimate = estimateMonthlyCost(counts, {
          containers: 1000,
          containersPerHost: c.containersPerHost,
          tickSeconds: c.tickSeconds,
        });
        emit({
          name: 'loop.cost_per_1000_usd_month',
          value: Math.round(estimate.usdPer1000ContainersPerMonth * 100) / 100,
          unit: 'USD/month',
          ticks: c.ticks,
          measuredContainers: c.containers,
        });
      }
    } finally {
      await container.remove();
      ac.abort();
      await loop.stop();
    }
  }
  process.stderr.write(
    'bench loop: utilisation_gain, overhead_pct and oom_kills need the fixed-vs-scaled runs (local/quality.ts measures them; the run is not composed yet): not printed.\n',
  );
}
