/**
 * Demo containers for the local loop: real LXC busybox containers (or, where
 * LXC/root is missing, plain cgroup v1 directories with host processes), each
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
  /** Path of the container's cgroup below each v1 controller, e.g. "lxc.payload.demo1". */
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
export const CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'blkio', 'pids'] as const;

export interface HostSupport {
  mode: 'lxc' | 'plain-cgroups' | 'dry-run';
  /** Why this mode: what is present or missing, and how to get it. */
  reason: string;
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
  if (uid !== 0) {
    return {
      mode: 'dry-run',
      reason: 'not running as root: cgroups cannot be written (run as root for real containers)',
    };
  }
  const writable = await Promise.all(
    ['cpu', 'memory'].map((c) =>
      access(join(root, c, 'cgroup.procs'), constants.W_OK).then(
        () => true,
        () => false,
      ),
    ),
  );
  if (!writable.every(Boolean)) {
    return {
      mode: 'dry-run',
      reason: `cgroup v1 cpu and memory controllers are not writable under ${root} (cgroup v2-only hosts run the loop in dry-run here)`,
    };
  }
  const missing = ['lxc-create', 'lxc-start', 'lxc-stop', 'lxc-destroy', 'busybox'].filter((b) => !which(b));
  if (missing.length > 0) {
    return {
      mode: 'plain-cgroups',
      reason: `LXC is unavailable (${missing.join(', ')} missing; apt-get install -y lxc lxc-templates busybox-static): using plain cgroups`,
    };
  }
  return { mode: 'lxc', reason: 'root, writable cgroup v1 controllers and LXC with busybox found' };
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

/** Remove a cgroup directory in every v1 controller (children first); missing ones are fine. */
async function removeCgroup(root: string, path: string): Promise<void> {
  for (const c of CONTROLLERS) {
    const dir = join(root, c, path);
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
 * is `lxc.payload.<name>`. DHCP is off (no bridge here: it would stall stop for 60 s).
 */
export async function createLxcWorkload(
  name: string,
  opts: { lxcPath?: string; cgroupRoot?: string } = {},
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
    await writeFile(configPath, `${[...config, '# serverless-containers demo', ...LXC_CONFIG].join('\n')}\n`);
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
 * Fallback without LXC: cgroup v1 directories `<prefix>/<name>` in every
 * controller and the same workload as a host process inside them.
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
    const procs = join(cgroupRoot, 'cpu', cgroupPath, 'cgroup.procs');
    for (const pid of (await readFile(procs, 'utf8').catch(() => '')).split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await removeCgroup(cgroupRoot, cgroupPath);
    await rm(work, { recursive: true, force: true });
    for (const c of CONTROLLERS) {
      const parent = join(cgroupRoot, c, prefix);
      await rmdir(parent).catch(() => undefined); // only when empty
    }
  };
  try {
    for (const c of CONTROLLERS) {
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
    const join_ = CONTROLLERS.filter((c) => existsSync(join(cgroupRoot, c, cgroupPath)))
      .map((c) => `echo $$ > ${join(cgroupRoot, c, cgroupPath, 'cgroup.procs')}`)
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
  await writeFile(join(root, 'cpu', c.cgroupPath, 'cpu.shares'), String(opts.weight ?? MAX_CPU_WEIGHT));
}
