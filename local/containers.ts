/**
 * Demo containers for the local loop: real LXC busybox containers (or, where
 * LXC is missing, plain cgroup directories with host processes) on cgroup v1
 * or a v2-only host alike, each
 * running a small shell workload that obeys a phase file written by the host:
 *
 *   idle                     nothing runs
 *   cpu <workers>            <workers> busy shell loops (≈ 100 shares each)
 *   mem <totalMiB> <stepMiB> an awk process that holds totalMiB of resident
 *                            memory, growing by stepMiB per second
 *
 * Everything created is removed by `remove()` (containers, cgroups, files), and
 * a failed create removes what it had made before rethrowing.
 *
 *   const support = await detectHostSupport();      // say which mode and why
 *   const c = await createLxcWorkload('demo1');     // or createPlainCgroupWorkload('demo1')
 *   await c.setPhase({ kind: 'cpu', workers: 1 }); … await c.remove();
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { constants, existsSync } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isValidName, NAME_RULE_TEXT } from '../core/contracts/names.ts';
import { ScError, ValidationError } from '../core/errors.ts';

const run = promisify(execFile);

export type Phase =
  | { kind: 'idle' }
  | { kind: 'cpu'; workers: number }
  | { kind: 'mem'; totalMiB: number; stepMiBPerSecond: number };

export interface WorkloadContainer {
  readonly name: string;
  readonly kind: 'lxc' | 'plain-cgroup';
  /** Path of the container's cgroup below each v1 controller or the v2 root, e.g. "lxc.payload.demo1". */
  readonly cgroupPath: string;
  /** Ask the workload to switch phase; it does so within ≈ 0.2 s. */
  setPhase(phase: Phase): Promise<void>;
  /** Stop the workload and remove everything this container created. Idempotent. */
  remove(): Promise<void>;
}

export class HostSupportError extends ScError {
  override name = 'HostSupportError';
}

export const CGROUP_V1_ROOT = '/sys/fs/cgroup';
/** The cgroup root, v1 (one directory per controller) or v2 (one unified hierarchy). */
export const CGROUP_ROOT = CGROUP_V1_ROOT;
export const CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'blkio', 'pids'] as const;
/** The v2 controllers the demo containers (and the agent) use, enabled for the root's children. */
export const V2_CONTROLLERS = ['cpu', 'memory', 'io', 'pids'] as const;

export interface HostSupport {
  mode: 'lxc' | 'plain-cgroups' | 'dry-run';
  /** The cgroup layout found (v2: a unified hierarchy at the root, as on every current distribution). */
  cgroup: 'v1' | 'v2';
  /** Why this mode: what is present or missing, and how to get it. */
  reason: string;
}

/** Whether `root` is a cgroup v2 (unified) hierarchy. */
export function isCgroupV2(root: string): boolean {
  return existsSync(join(root, 'cgroup.controllers'));
}

const canWrite = (path: string) =>
  access(path, constants.W_OK).then(
    () => true,
    () => false,
  );

/**
 * v2: enable the cpu, memory, io and pids controllers (those the kernel has) for the children of
 * `dir`, as a container manager does, so that a container's cgroup has cpu.max, memory.max, ….
 */
export async function enableV2Controllers(dir: string): Promise<string[]> {
  const available = (await readFile(join(dir, 'cgroup.controllers'), 'utf8')).trim().split(/\s+/);
  const want = V2_CONTROLLERS.filter((c) => available.includes(c));
  const enabled = (await readFile(join(dir, 'cgroup.subtree_control'), 'utf8')).trim().split(/\s+/);
  const missing = want.filter((c) => !enabled.includes(c));
  if (missing.length > 0)
    await writeFile(join(dir, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
  return want;
}

/** Which kind of demo containers this machine can run, and why. */
export async function detectHostSupport(
  opts: { cgroupRoot?: string; uid?: number; which?: (bin: string) => boolean } = {},
): Promise<HostSupport> {
  const root = opts.cgroupRoot ?? CGROUP_V1_ROOT;
  const uid = opts.uid ?? process.getuid?.() ?? -1;
  const which =
    opts.which ??
    ((bin: string) => ['/usr/bin', '/usr/sbin', '/bin', '/sbin'].some((d) => existsSync(join(d, bin))));
  const cgroup = isCgroupV2(root) ? 'v2' : 'v1';
  if (uid !== 0) {
    return {
      mode: 'dry-run',
      cgroup,
      reason: 'not running as root: cgroups cannot be written (run as root for real containers)',
    };
  }
  if (cgroup === 'v2') {
    const available = (await readFile(join(root, 'cgroup.controllers'), 'utf8').catch(() => ''))
      .trim()
      .split(/\s+/);
    const absent = ['cpu', 'memory'].filter((c) => !available.includes(c));
    if (absent.length > 0 || !(await canWrite(join(root, 'cgroup.subtree_control')))) {
      return {
        mode: 'dry-run',
        cgroup,
        reason:
          absent.length > 0
            ? `cgroup v2 at ${root} has no ${absent.join(' or ')} controller (taken by a cgroup v1 mount?)`
            : `cgroup v2 at ${root} is not writable (a container without cgroup delegation?)`,
      };
    }
  } else {
    const writable = await Promise.all(['cpu', 'memory'].map((c) => canWrite(join(root, c, 'cgroup.procs'))));
    if (!writable.every(Boolean)) {
      return {
        mode: 'dry-run',
        cgroup,
        reason: `neither cgroup v2 nor writable cgroup v1 cpu and memory controllers under ${root}`,
      };
    }
  }
  const missing = ['lxc-create', 'lxc-start', 'lxc-stop', 'lxc-destroy', 'busybox'].filter((b) => !which(b));
  if (missing.length > 0) {
    return {
      mode: 'plain-cgroups',
      cgroup,
      reason: `LXC is unavailable (${missing.join(', ')} missing; apt-get install -y lxc lxc-templates busybox-static): using plain cgroup ${cgroup} directories`,
    };
  }
  return { mode: 'lxc', cgroup, reason: `root, writable cgroup ${cgroup} and LXC with busybox found` };
}

/** The workload script both kinds run (busybox sh). `$1` is the phase file. */
export const WORKLOAD_SCRIPT = `#!/bin/sh
phase_file="$1"
cur=""
pids=""
stop_workers() { for p in $pids; do kill -9 "$p" 2>/dev/null; done; pids=""; }
trap 'stop_workers; exit 0' TERM INT
while :; do
  want=$(cat "$phase_file" 2>/dev/null)
  [ -z "$want" ] && want=idle
  if [ "$want" != "$cur" ]; then
    stop_workers
    set -- $want
    case "$1" in
      cpu)
        i=0
        while [ "$i" -lt "$2" ]; do
          ( while :; do :; done ) &
          pids="$pids $!"
          i=$((i + 1))
        done ;;
      mem)
        awk -v total="$2" -v step="$3" 'BEGIN {
          chunk = sprintf("%1048576s", ""); n = 0
          while (n < total) {
            for (j = 0; j < step && n < total; j++) { held[n] = chunk; n++ }
            system("sleep 1")
          }
          while (1) system("sleep 1")
        }' &
        pids="$pids $!" ;;
    esac
    cur="$want"
  fi
  usleep 200000
done
`;

export function phaseLine(phase: Phase): string {
  const int = (v: number, field: string, min: number) => {
    if (!Number.isInteger(v) || v < min) {
      throw new ValidationError('phase', [{ path: field, message: `must be an integer ≥ ${min}` }]);
    }
    return v;
  };
  switch (phase.kind) {
    case 'idle':
      return 'idle';
    case 'cpu':
      return `cpu ${int(phase.workers, 'workers', 1)}`;
    case 'mem':
      return `mem ${int(phase.totalMiB, 'totalMiB', 1)} ${int(phase.stepMiBPerSecond, 'stepMiBPerSecond', 1)}`;
  }
}

function checkName(name: string): void {
  if (!isValidName(name)) throw new ValidationError('container', [{ path: 'name', message: NAME_RULE_TEXT }]);
}

/** Remove a cgroup directory (v2) or its directory in every v1 controller; missing ones are fine. */
async function removeCgroup(root: string, path: string): Promise<void> {
  const dirs = isCgroupV2(root) ? [join(root, path)] : CONTROLLERS.map((c) => join(root, c, path));
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (let attempt = 0; ; attempt++) {
      try {
        await rmdir(dir);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
        if (attempt >= 20) throw new ScError(`cannot remove cgroup ${dir}`, { cause: err });
        await new Promise((r) => setTimeout(r, 50)); // tasks still exiting
      }
    }
  }
}

export const LXC_PATH = '/var/lib/lxc';

/** Config lines that make a busybox container start and stop quickly on a host without lxcbr0. */
export const LXC_CONFIG = [
  'lxc.net.0.type = veth',
  'lxc.net.0.flags = up',
  'lxc.apparmor.profile = unconfined',
  'lxc.mount.auto = cgroup:mixed:force proc:mixed sys:ro',
];

/**
 * A real LXC busybox container running the workload (starts idle). Its cgroup
 * is `lxc.payload.<name>` (below each v1 controller, or at the v2 root). DHCP is
 * off (no bridge here: it would stall stop for 60 s). `network: 'none'` gives it
 * no interface at all (a kernel without veth, e.g. user-mode-linux).
 */
export async function createLxcWorkload(
  name: string,
  opts: { lxcPath?: string; cgroupRoot?: string; network?: 'veth' | 'none' } = {},
): Promise<WorkloadContainer> {
  checkName(name);
  const lxcPath = opts.lxcPath ?? LXC_PATH;
  const cgroupRoot = opts.cgroupRoot ?? CGROUP_V1_ROOT;
  const dir = join(lxcPath, name);
  if (existsSync(dir)) {
    throw new HostSupportError(`container ${name} already exists (${dir}); remove it or pick another name`);
  }
  const rootfs = join(dir, 'rootfs');
  const phaseFile = join(rootfs, 'sc-workload', 'phase');
  let removed = false;
  const remove = async () => {
    if (removed) return;
    removed = true;
    await run('lxc-stop', ['-P', lxcPath, '-n', name, '-k']).catch(() => undefined);
    await run('lxc-destroy', ['-P', lxcPath, '-n', name]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    await removeCgroup(cgroupRoot, `lxc.payload.${name}`);
    await removeCgroup(cgroupRoot, `lxc.monitor.${name}`);
  };
  try {
    await run('lxc-create', ['-P', lxcPath, '-n', name, '-t', 'busybox'], { timeout: 60_000 });
    const configPath = join(dir, 'config');
    const config = (await readFile(configPath, 'utf8'))
      .split('\n')
      .filter((l) => !/^\s*lxc\.(mount\.auto|net\.|apparmor\.profile)/.test(l));
    const lines =
      opts.network === 'none'
        ? [...LXC_CONFIG.filter((l) => !l.startsWith('lxc.net.')), 'lxc.net.0.type = empty']
        : LXC_CONFIG;
    await writeFile(configPath, `${[...config, '# serverless-containers demo', ...lines].join('\n')}\n`);
    if (isCgroupV2(cgroupRoot)) await enableV2Controllers(cgroupRoot);
    await mkdir(join(rootfs, 'sc-workload'), { recursive: true });
    await writeFile(join(rootfs, 'sc-workload', 'run.sh'), WORKLOAD_SCRIPT, { mode: 0o755 });
    await writeFile(phaseFile, 'idle\n');
    await writeFile(
      join(rootfs, 'etc', 'init.d', 'rcS'),
      '#!/bin/sh\n/bin/mount -a\n/bin/sh /sc-workload/run.sh /sc-workload/phase </dev/null >/dev/null 2>&1 &\n',
      { mode: 0o755 },
    );
    await run('lxc-start', ['-P', lxcPath, '-n', name, '-d'], { timeout: 30_000 });
    await run('lxc-wait', ['-P', lxcPath, '-n', name, '-s', 'RUNNING', '-t', '10'], { timeout: 15_000 });
  } catch (err) {
    await remove().catch(() => undefined);
    throw new HostSupportError(`could not create LXC container ${name}: ${(err as Error).message}`, {
      cause: err,
      context: { container: name },
    });
  }
  return {
    name,
    kind: 'lxc',
    cgroupPath: `lxc.payload.${name}`,
    setPhase: (phase) => writeFile(phaseFile, `${phaseLine(phase)}\n`),
    remove,
  };
}

/**
 * Fallback without LXC: cgroup directories `<prefix>/<name>` (in every v1
 * controller, or once in the v2 hierarchy with cpu, memory, io and pids
 * enabled down to it) and the same workload as a host process inside them.
 */
export async function createPlainCgroupWorkload(
  name: string,
  opts: { cgroupRoot?: string; prefix?: string; busybox?: string } = {},
): Promise<WorkloadContainer> {
  checkName(name);
  const cgroupRoot = opts.cgroupRoot ?? CGROUP_V1_ROOT;
  const prefix = opts.prefix ?? 'sc-plain';
  const cgroupPath = `${prefix}/${name}`;
  const busybox = opts.busybox ?? ['/usr/bin/busybox', '/bin/busybox'].find((p) => existsSync(p));
  if (busybox === undefined) {
    throw new HostSupportError('busybox is missing: apt-get install -y busybox-static');
  }
  const work = await mkdtemp(join(tmpdir(), `sc-${name}-`));
  const phaseFile = join(work, 'phase');
  let child: ChildProcess | null = null;
  let removed = false;
  const remove = async () => {
    if (removed) return;
    removed = true;
    if (child !== null && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
    }
    // Anything still in the cgroup (workers of a killed script) goes too.
    const procs = join(cgroupRoot, v2 ? '' : 'cpu', cgroupPath, 'cgroup.procs');
    for (const pid of (await readFile(procs, 'utf8').catch(() => '')).split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await removeCgroup(cgroupRoot, cgroupPath);
    await rm(work, { recursive: true, force: true });
    for (const parent of v2
      ? [join(cgroupRoot, prefix)]
      : CONTROLLERS.map((c) => join(cgroupRoot, c, prefix)))
      await rmdir(parent).catch(() => undefined); // only when empty
  };
  const v2 = isCgroupV2(cgroupRoot);
  /** The directories holding the workload's cgroup.procs: one on v2, one per mounted controller on v1. */
  const procDirs = () =>
    v2
      ? [join(cgroupRoot, cgroupPath)]
      : CONTROLLERS.filter((c) => existsSync(join(cgroupRoot, c, cgroupPath))).map((c) =>
          join(cgroupRoot, c, cgroupPath),
        );
  try {
    if (v2) {
      const dir = join(cgroupRoot, cgroupPath);
      if (existsSync(dir)) throw new HostSupportError(`cgroup ${dir} already exists`);
      await enableV2Controllers(cgroupRoot);
      await mkdir(join(cgroupRoot, prefix), { recursive: true });
      await enableV2Controllers(join(cgroupRoot, prefix));
      await mkdir(dir);
    }
    for (const c of v2 ? [] : CONTROLLERS) {
      const dir = join(cgroupRoot, c, cgroupPath);
      if (!existsSync(join(cgroupRoot, c))) continue;
      if (existsSync(dir)) throw new HostSupportError(`cgroup ${dir} already exists`);
      await mkdir(dir, { recursive: true });
      if (c === 'cpuset') {
        // A new cpuset cgroup needs cpus and mems before a task can join.
        for (const f of ['cpuset.cpus', 'cpuset.mems']) {
          const parentDir = join(cgroupRoot, c, prefix);
          const parentValue = (await readFile(join(parentDir, f), 'utf8')).trim();
          if (parentValue === '') {
            await writeFile(join(parentDir, f), (await readFile(join(cgroupRoot, c, f), 'utf8')).trim());
          }
          await writeFile(join(dir, f), (await readFile(join(parentDir, f), 'utf8')).trim());
        }
      }
    }
    await writeFile(join(work, 'run.sh'), WORKLOAD_SCRIPT, { mode: 0o755 });
    // The script's tools resolve to busybox, as inside the LXC container.
    await mkdir(join(work, 'bin'));
    for (const tool of ['sh', 'awk', 'cat', 'kill', 'sleep', 'usleep'])
      await symlink(busybox, join(work, 'bin', tool));
    await writeFile(phaseFile, 'idle\n');
    // Join every controller's cgroup first, then become the workload: workers inherit the cgroups.
    const join_ = procDirs()
      .map((d) => `echo $$ > ${join(d, 'cgroup.procs')}`)
      .join(' && ');
    const proc = spawn(
      busybox,
      ['sh', '-c', `${join_} && exec ${busybox} sh ${join(work, 'run.sh')} ${phaseFile}`],
      {
        stdio: 'ignore',
        env: { PATH: `${join(work, 'bin')}:/usr/bin:/bin` },
      },
    );
    child = proc;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, 300);
      proc.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`workload exited at start with ${code}`));
      });
    });
  } catch (err) {
    await remove().catch(() => undefined);
    throw new HostSupportError(`could not create plain-cgroup workload ${name}: ${(err as Error).message}`, {
      cause: err,
      context: { container: name },
    });
  }
  return {
    name,
    kind: 'plain-cgroup',
    cgroupPath,
    setPhase: (phase) => writeFile(phaseFile, `${phaseLine(phase)}\n`),
    remove,
  };
}

/** The largest cpu.shares (cgroup v1) the kernel accepts. */
export const MAX_CPU_WEIGHT = 262_144;
/** The largest cpu.weight (cgroup v2). */
export const MAX_CPU_WEIGHT_V2 = 10_000;

/**
 * Give a container's cgroup the largest CPU weight, so that on a busy machine
 * its tasks get the CPU its quota allows before other processes do. Used by
 * measurements, which time the loop's reaction to the container's own load,
 * not to the machine's. (The host agent sets quotas, never cpu.shares.)
 */
export async function favourCpu(
  c: Pick<WorkloadContainer, 'cgroupPath'>,
  opts: { cgroupRoot?: string; weight?: number } = {},
): Promise<void> {
  const root = opts.cgroupRoot ?? CGROUP_V1_ROOT;
  if (isCgroupV2(root))
    await writeFile(
      join(root, c.cgroupPath, 'cpu.weight'),
      String(Math.min(opts.weight ?? MAX_CPU_WEIGHT_V2, MAX_CPU_WEIGHT_V2)),
    );
  else await writeFile(join(root, 'cpu', c.cgroupPath, 'cpu.shares'), String(opts.weight ?? MAX_CPU_WEIGHT));
}

/**
 * The CPU quota (µs per period; null = none) and memory limit (bytes; null = none) the kernel
 * holds for a demo container, v1 (cpu.cfs_quota_us, memory.limit_in_bytes) or v2 (cpu.max,
 * memory.max); null fields also when unreadable.
 */
export async function readDemoLimits(
  cgroupPath: string,
  opts: { cgroupRoot?: string } = {},
): Promise<{ quotaUs: number | null; periodUs: number | null; memBytes: number | null }> {
  const root = opts.cgroupRoot ?? CGROUP_V1_ROOT;
  const text = (p: string) =>
    readFile(p, 'utf8').then(
      (t) => t.trim(),
      () => null,
    );
  const num = (t: string | null) => (t === null || !/^\d+$/.test(t) ? null : Number(t));
  if (isCgroupV2(root)) {
    const [q, p] = ((await text(join(root, cgroupPath, 'cpu.max'))) ?? '').split(' ');
    return {
      quotaUs: num(q ?? null),
      periodUs: num(p ?? null),
      memBytes: num(await text(join(root, cgroupPath, 'memory.max'))),
    };
  }
  const quota = num(await text(join(root, 'cpu', cgroupPath, 'cpu.cfs_quota_us')));
  const mem = num(await text(join(root, 'memory', cgroupPath, 'memory.limit_in_bytes')));
  return {
    quotaUs: quota,
    periodUs: num(await text(join(root, 'cpu', cgroupPath, 'cpu.cfs_period_us'))),
    memBytes: mem === null || mem >= 2 ** 62 ? null : mem,
  };
}
