/**
 * A temporary cgroup tree with the file names and formats of v1 or v2, for
 * planner/applier tests that cannot (or need not) touch the real hierarchy.
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
  'cpu.max': 'max 100000\n',
  'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\n',
  'cpuset.cpus': '\n',
  'memory.max': 'max\n',
  'memory.high': 'max\n',
  'memory.current': '0\n',
  'memory.stat': 'anon 0\nfile 0\n',
  'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n',
  'io.max': '',
  'io.stat': '',
};

export interface CgroupTree {
  root: string;
  version: CgroupVersion;
  /** Path of a container's file (controller ignored on v2). */
  path(container: string, controller: string, file: string): string;
  read(container: string, controller: string, file: string): string;
  write(container: string, controller: string, file: string, value: string): void;
  addContainer(name: string, dirName?: string): void;
  cleanup(): void;
}

/** A cgroup root under /tmp with the v1 or v2 layout; containers added under lxc.payload.<name>. */
export function makeCgroupTree(version: CgroupVersion): CgroupTree {
  const root = mkdtempSync(join(tmpdir(), `sc-cg${version}-`));
  const dirOf = new Map<string, string>();
  if (version === 'v2') writeFileSync(join(root, 'cgroup.controllers'), 'cpu cpuset memory io\n');
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
    addContainer(name, dirName = `lxc.payload.${name}`) {
      dirOf.set(name, dirName);
      if (version === 'v2') {
        mkdirSync(join(root, dirName), { recursive: true });
        for (const [f, v] of Object.entries(V2_FILES)) writeFileSync(join(root, dirName, f), v);
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
