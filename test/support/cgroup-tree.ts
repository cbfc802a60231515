/**
 * A temporary cgroup tree with the file names and formats of v1 or v2, for
 * planner/applier tests that cannot (or need not) touch the real hierarchy.
 *
 * v2 files start as a 6.1 kernel shows them (checked in user-mode-linux by
 * test/host/host-agent/cgroup-v2.uml.test.ts). What ordinary files cannot do, and the kernel
 * does (unit tests that depend on it write the kernel's answer themselves): cpu.max and
 * memory.max/high refuse bad values (EINVAL: a quota under 1000 µs, "-1"); io.max refuses 0
 * (ERANGE) and unknown devices (ENODEV), lists every key of a device's line
 * ("8:0 rbps=1 wbps=max riops=max wiops=max") and drops the line when all are max; memory
 * files round down to a page; without the cpuset controller there is no cpuset.* file at all.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CgroupVersion } from '../../host-agent/cgroup/layout.ts';

const V1_FILES: Record<string, Record<string, string>> = {
  cpu: { 'cpu.cfs_period_us': '100000\n', 'cpu.cfs_quota_us': '-1\n', 'cgroup.procs': '4242\n' },
  cpuacct: { 'cpuacct.usage_user': '0\n', 'cpuacct.usage_sys': '0\n', 'cpuacct.stat': 'user 0\nsystem 0\n' },
  cpuset: { 'cpuset.cpus': '0-1\n', 'cpuset.mems': '0\n' },
  memory: {
    'memory.limit_in_bytes': '9223372036854771712\n',
    'memory.stat': 'rss 0\ntotal_rss 0\n',
    'memory.usage_in_bytes': '0\n',
    'memory.failcnt': '0\n',
    'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
  },
  blkio: {
    'blkio.throttle.read_bps_device': '',
    'blkio.throttle.write_bps_device': '',
    'blkio.throttle.io_service_bytes_recursive': 'Total 0\n',
  },
};

const V2_FILES: Record<string, string> = {
  'cgroup.procs': '4242\n',
  'cgroup.controllers': 'cpuset cpu io memory pids\n',
  'cpu.max': 'max 100000\n',
  'cpu.stat':
    'usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\nnr_bursts 0\nburst_usec 0\n',
  'cpuset.cpus': '\n',
  'memory.max': 'max\n',
  'memory.high': 'max\n',
  'memory.current': '0\n',
  'memory.stat': 'anon 0\nfile 0\n',
  'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n',
  'io.max': '',
  'io.stat': '',
  'pids.max': 'max\n',
  'pids.current': '0\n',
};
/** The v2 files only the cpuset controller brings. */
const V2_CPUSET_FILES = new Set(['cpuset.cpus']);

export interface CgroupTree {
  root: string;
  version: CgroupVersion;
  /** Path of a container's file (controller ignored on v2). */
  path(container: string, controller: string, file: string): string;
  read(container: string, controller: string, file: string): string;
  write(container: string, controller: string, file: string, value: string): void;
  /** `cpuset: false` (v2): a cgroup without the cpuset controller, as on a host that does not delegate it. */
  addContainer(name: string, dirName?: string, opts?: { cpuset?: boolean }): void;
  cleanup(): void;
}

/** A cgroup root under /tmp with the v1 or v2 layout; containers added under lxc.payload.<name>. */
export function makeCgroupTree(version: CgroupVersion): CgroupTree {
  const root = mkdtempSync(join(tmpdir(), `sc-cg${version}-`));
  const dirOf = new Map<string, string>();
  if (version === 'v2') writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
  else for (const c of Object.keys(V1_FILES)) mkdirSync(join(root, c));
  const path = (container: string, controller: string, file: string) => {
    const rel = dirOf.get(container) ?? `lxc.payload.${container}`;
    return version === 'v2' ? join(root, rel, file) : join(root, controller, rel, file);
  };
  return {
    root,
    version,
    path,
    read: (c, ctl, f) => readFileSync(path(c, ctl, f), 'utf8'),
    write: (c, ctl, f, v) => writeFileSync(path(c, ctl, f), v),
    addContainer(name, dirName = `lxc.payload.${name}`, opts = {}) {
      dirOf.set(name, dirName);
      if (version === 'v2') {
        mkdirSync(join(root, dirName), { recursive: true });
        const cpuset = opts.cpuset !== false;
        for (const [f, v] of Object.entries(V2_FILES)) {
          if (!cpuset && V2_CPUSET_FILES.has(f)) continue;
          const text = f === 'cgroup.controllers' && !cpuset ? v.replace('cpuset ', '') : v;
          writeFileSync(join(root, dirName, f), text);
        }
        return;
      }
      for (const [ctl, files] of Object.entries(V1_FILES)) {
        mkdirSync(join(root, ctl, dirName), { recursive: true });
        for (const [f, v] of Object.entries(files)) writeFileSync(join(root, ctl, dirName, f), v);
      }
    },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

const PAGE_BYTES = 4096;

/**
 * What a 6.1 kernel answers to writing `value` into a v2 controller file, as measured in
 * user-mode-linux (test/host/host-agent/cgroup-v2.uml.test.ts, "kernelFormats"): null when it
 * takes the value as written, else the errno, or 'ROUNDED' when it takes a different value
 * (memory sizes round down to a page). Ordinary files take anything; tests of what the agent
 * plans check its values against this instead.
 */
export function kernelV2Answer(file: string, value: string): string | null {
  const v = value.trim();
  if (file === 'cpu.max') {
    const m = /^(max|\d+)(?: (\d+))?$/.exec(v);
    if (m === null) return 'EINVAL';
    const quota = m[1] === 'max' ? null : Number(m[1]);
    const period = m[2] === undefined ? null : Number(m[2]);
    if (quota !== null && quota < 1000) return 'EINVAL';
    if (period !== null && (period < 1000 || period > 1_000_000)) return 'EINVAL';
    return null;
  }
  if (file === 'memory.max' || file === 'memory.high') {
    if (v === 'max') return null;
    const m = /^(\d+)([KMG]?)$/.exec(v);
    if (m === null) return 'EINVAL';
    return m[2] === '' && Number(m[1]) % PAGE_BYTES !== 0 ? 'ROUNDED' : null;
  }
  if (file === 'io.max') {
    const [dev, ...kvs] = v.split(/\s+/);
    if (dev === undefined || !/^\d+:\d+$/.test(dev) || kvs.length === 0) return 'EINVAL';
    for (const kv of kvs) {
      const m = /^(rbps|wbps|riops|wiops)=(max|\d+)$/.exec(kv);
      if (m === null) return 'EINVAL';
      if (m[2] === '0') return 'ERANGE';
    }
    return null;
  }
  if (file === 'pids.max') return /^(max|\d+)$/.test(v) ? null : 'EINVAL';
  if (file === 'cpuset.cpus') return /^(\d+(-\d+)?)(,\d+(-\d+)?)*$|^$/.test(v) ? null : 'EINVAL';
  return 'ENOENT';
}
