/**
 * `npm run bench -- stress`: the loop on workloads we did not write (issue 14):
 * Debian's stress-ng inside real LXC busybox containers, driven in phases, at the
 * default and the tuned config (BENCH_STRESS_CONFIGS=default,tuned).
 *
 *   loop.idle_scaledown_s       truly idle container (every process asleep: 0 CPU) → first lower quota;
 *                               median over the idle phases (the start, and after each CPU step)
 *   loop.reaction_stress_s      CPU step (stress-ng --cpu, 0.5 / 1 / 1.5 cores) → first higher quota, median
 *   loop.oom_kills_steps        OOM kills (memory.oom_control) during memory steps of +300 % and
 *                               +100 % of the current limit, allocated at once (stress-ng --vm --vm-keep)
 *   loop.utilisation_gain_stress ∫usage ÷ ∫allocation (cpu) of the scaled container over the whole run,
 *                               ÷ the same of a twin container fixed at max running the same phases
 *   loop.throttled_overhead_stress_pct  periodic batch job (stress-ng --cpu 1, 10 s every 30 s, on the
 *                               scaled container): time the quota held it back ÷ its unthrottled time
 *
 * Both containers run the phases at once (same phases, same host); the host's
 * load average is printed beside each figure. Everything printed is measured.
 */
import { execFile, spawn } from 'node:child_process';
import { copyFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CGROUP_V1_ROOT,
  createLxcWorkload,
  detectHostSupport,
  favourCpu,
  LXC_PATH,
  type WorkloadContainer,
} from '../local/containers.ts';
import { type GuardSpec, type LoopConfigName, startLoop } from '../local/loop.ts';
import { type CgroupSample, cgroupSampleReader, sampleCgroup, summarise } from '../local/quality.ts';
import { cgroupFileReader, quotaToShares } from '../local/reaction.ts';
import { readCpuTopology, readMemTotalMiB } from '../local/topology.ts';
import { type Emit, median } from './figure.ts';

const run_ = promisify(execFile);
const say = (line: string) => process.stderr.write(`  ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CONFIGS = (process.env.BENCH_STRESS_CONFIGS || 'default,tuned')
  .split(',')
  .map((c) => c.trim())
  .filter((c): c is LoopConfigName => c === 'default' || c === 'tuned');
const SPEC: GuardSpec = {
  cpu: { min: 25, current: 100, max: 200 },
  mem: { min: 64, current: 128, max: 1024 },
};
const MiB = 2 ** 20;
const load = () => loadavg()[0]?.toFixed(1) ?? '?';

/** Put Debian's stress-ng into the container (its /lib and /usr/lib are the host's) and stop the demo script. */
async function prepare(c: WorkloadContainer): Promise<void> {
  await copyFile('/usr/bin/stress-ng', join(LXC_PATH, c.name, 'rootfs', 'bin', 'stress-ng'));
  await run_('chmod', ['755', join(LXC_PATH, c.name, 'rootfs', 'bin', 'stress-ng')]);
  // true idle: the demo workload's polling loop goes; busybox init and getty sleep
  await attach(
    c,
    "for p in $(ps | grep sc-workload/run.sh | grep -v grep | awk '{print $1}'); do kill $p; done; true",
  );
}

function attach(c: WorkloadContainer, cmd: string, timeoutMs = 120_000) {
  return run_('lxc-attach', ['-P', LXC_PATH, '-n', c.name, '--', '/bin/sh', '-c', cmd], {
    timeout: timeoutMs,
  });
}

/** Start a stress-ng run in each container at once; resolves when all end. */
async function stress(cs: readonly WorkloadContainer[], args: string): Promise<void> {
  await Promise.all(
    cs.map(
      (c) =>
        new Promise<void>((resolve) => {
          const p = spawn(
            'lxc-attach',
            ['-P', LXC_PATH, '-n', c.name, '--', '/bin/sh', '-c', `stress-ng ${args} >/dev/null 2>&1`],
            {
              stdio: 'ignore',
            },
          );
          p.on('exit', () => resolve());
          p.on('error', () => resolve());
        }),
    ),
  );
}

/** Poll until `pred` holds for the value read, or the timeout; seconds taken or null. */
async function until(
  read: () => Promise<number | null>,
  pred: (v: number) => boolean,
  timeoutMs: number,
): Promise<number | null> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    const v = await read();
    if (v !== null && pred(v)) return (Date.now() - t0) / 1000;
    await sleep(250);
  }
  return null;
}

async function fixAtMax(c: WorkloadContainer): Promise<void> {
  const dir = (ctl: string) => join(CGROUP_V1_ROOT, ctl, c.cgroupPath);
  await writeFile(join(dir('cpu'), 'cpu.cfs_period_us'), '100000');
  await writeFile(join(dir('cpu'), 'cpu.cfs_quota_us'), String(SPEC.cpu.max * 1000));
  await writeFile(join(dir('memory'), 'memory.limit_in_bytes'), String(SPEC.mem.max * MiB));
}

async function runConfig(config: LoopConfigName, emit: Emit): Promise<void> {
  const ac = new AbortController();
  const loop = await startLoop({ config, signal: ac.signal, dashboard: false });
  const tag = process.pid.toString(36);
  const scaled = await createLxcWorkload(`sc-stress-s-${config}-${tag}`);
  const fixed = await createLxcWorkload(`sc-stress-f-${config}-${tag}`);
  const suffix = config === 'default' ? '' : `_${config}`;
  const samples: { s: CgroupSample[]; f: CgroupSample[] } = { s: [], f: [] };
  const sampling: Promise<CgroupSample[]>[] = [];
  try {
    for (const c of [scaled, fixed]) {
      await prepare(c);
      await favourCpu(c);
    }
    await fixAtMax(fixed);
    const quota = async () =>
      quotaToShares(await cgroupFileReader(CGROUP_V1_ROOT, scaled.cgroupPath, 'cpu', 'cpu.cfs_quota_us')());
    const memLimitMiB = async () => {
      const b = await cgroupFileReader(
        CGROUP_V1_ROOT,
        scaled.cgroupPath,
        'memory',
        'memory.limit_in_bytes',
      )();
      return b === null ? null : b / MiB;
    };
    const oomKills = async () => {
      const r = cgroupSampleReader(CGROUP_V1_ROOT, scaled.cgroupPath);
      return (await r()).oomKills;
    };
    sampling.push(
      sampleCgroup({
        read: cgroupSampleReader(CGROUP_V1_ROOT, scaled.cgroupPath),
        intervalMs: 500,
        signal: ac.signal,
      }),
      sampleCgroup({
        read: cgroupSampleReader(CGROUP_V1_ROOT, fixed.cgroupPath),
        intervalMs: 500,
        signal: ac.signal,
      }),
    );
    await loop.guard(scaled, SPEC);
    say(`${config}: guarded at ${SPEC.cpu.current} shares / ${SPEC.mem.current} MiB, load ${load()}`);

    // 1. True idle from the start: the allocation above usage comes down.
    const idle: number[] = [];
    const idle0 = await until(quota, (q) => q < SPEC.cpu.current, 120_000);
    say(`${config}: idle → first cut ${idle0 ?? 'none'} s`);
    if (idle0 !== null) idle.push(idle0);

    // 2. CPU steps of different sizes, each followed by true idle.
    const reactions: number[] = [];
    for (const [workers, pct] of [
      [1, 50],
      [1, 100],
      [2, 75],
    ] as const) {
      const before = (await quota()) ?? 0;
      const job = stress([scaled, fixed], `--cpu ${workers} --cpu-load ${pct} --timeout 30s`);
      const up = await until(quota, (q) => q > before, 30_000);
      if (up !== null) reactions.push(up);
      await job;
      const high = (await quota()) ?? 0;
      const down = await until(quota, (q) => q < high, 120_000);
      say(
        `${config}: cpu ${workers}×${pct} % from ${before}: up ${up ?? 'none'} s; idle → cut ${down ?? 'none'} s (load ${load()})`,
      );
      if (down !== null) idle.push(down);
    }

    // 3. Memory steps: +300 % then +100 % of the current limit, allocated at once.
    const kills0 = await oomKills();
    for (const factor of [3, 1]) {
      const cur = (await memLimitMiB()) ?? SPEC.mem.current;
      const bytes = Math.round(cur * factor);
      await stress([scaled, fixed], `--vm 1 --vm-bytes ${bytes}M --vm-keep --timeout 20s`);
      say(
        `${config}: memory step +${factor * 100} % of ${cur} MiB (${bytes} MiB): limit now ${await memLimitMiB()} MiB, OOM kills so far ${(await oomKills()) - kills0}`,
      );
      await sleep(45_000); // idle: memory may come back down
    }
    const stepKills = (await oomKills()) - kills0;

    // 4. A periodic batch job.
    const jobs: { runS: number; throttledS: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      const th0 = (await cgroupSampleReader(CGROUP_V1_ROOT, scaled.cgroupPath)()).throttledNs;
      await stress([scaled, fixed], '--cpu 1 --timeout 10s');
      const th1 = (await cgroupSampleReader(CGROUP_V1_ROOT, scaled.cgroupPath)()).throttledNs;
      jobs.push({ runS: (Date.now() - t0) / 1000, throttledS: (th1 - th0) / 1e9 });
      await sleep(20_000);
    }

    ac.abort();
    const [ss, sf] = await Promise.all(sampling);
    samples.s = ss ?? [];
    samples.f = sf ?? [];
    const host = { hostCores: readCpuTopology().length, hostMemMiB: readMemTotalMiB() };
    const qs = summarise(samples.s, host);
    const qf = summarise(samples.f, host);
    const extra = { config, load1: Number(load()) };
    if (idle.length > 0)
      emit({
        name: `loop.idle_scaledown_s${suffix}`,
        value: median(idle),
        unit: 's',
        runs: idle.length,
        goal: '≤ 35 s (default)',
        ...extra,
      });
    if (reactions.length > 0)
      emit({
        name: `loop.reaction_stress_s${suffix}`,
        value: median(reactions),
        unit: 's',
        runs: reactions.length,
        ...extra,
      });
    emit({ name: `loop.oom_kills_steps${suffix}`, value: stepKills, unit: 'kills', goal: 0, ...extra });
    if (qs.cpuUtilisation !== null && qf.cpuUtilisation !== null && qf.cpuUtilisation > 0)
      emit({
        name: `loop.utilisation_gain_stress${suffix}`,
        value: Math.round((qs.cpuUtilisation / qf.cpuUtilisation) * 100) / 100,
        unit: '×',
        scaled: Math.round(qs.cpuUtilisation * 1000) / 1000,
        fixed: Math.round(qf.cpuUtilisation * 1000) / 1000,
        seconds: Math.round(qs.durationS),
        goal: '≥ 1.77×',
        ...extra,
      });
    const run = jobs.reduce((a, j) => a + j.runS, 0);
    const throttled = jobs.reduce((a, j) => a + j.throttledS, 0);
    if (run > throttled)
      emit({
        name: `loop.throttled_overhead_stress_pct${suffix}`,
        value: Math.round((throttled / (run - throttled)) * 1000) / 10,
        unit: '%',
        jobs: jobs.length,
        ...extra,
      });
  } finally {
    ac.abort();
    await Promise.allSettled(sampling);
    await scaled.remove();
    await fixed.remove();
    await loop.stop();
  }
}

export async function run(emit: Emit): Promise<void> {
  const support = await detectHostSupport();
  if (support.mode !== 'lxc') {
    say(`stress: no LXC here (${support.reason}): nothing measured`);
    return;
  }
  for (const config of CONFIGS) await runConfig(config, emit);
}
