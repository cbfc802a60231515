/**
 * Finds the LXC containers of this host: their configs (as lxc-ls does, from
 * the LXC path), their cgroup directories (v1 or v2, `lxc.payload.<name>` or
 * the older `lxc/<name>`), the host side of their veth, and the block device
 * that backs their data (the bind mount, else the rootfs).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isValidName } from '../core/contracts/names.ts';
import type { Target } from './cgroup/apply.ts';
import {
  assertContainerName,
  type CgroupVersion,
  insideDir,
  resolveContainerCgroup,
} from './cgroup/layout.ts';

const run = promisify(execFile);

export interface LxcConfig {
  vethPairs: string[];
  rootfs: string | null;
  /** Bind mounts: host source → target inside the container (relative to the rootfs). */
  mounts: { source: string; target: string }[];
}

/** The parts of an LXC config the agent needs (later keys extend earlier ones, as LXC reads them). */
export function parseLxcConfig(text: string): LxcConfig {
  const cfg: LxcConfig = { vethPairs: [], rootfs: null, mounts: [] };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (/^lxc\.net\.\d+\.veth\.pair$/.test(key) || key === 'lxc.network.veth.pair') cfg.vethPairs.push(value);
    else if (key === 'lxc.rootfs.path' || key === 'lxc.rootfs') cfg.rootfs = value.replace(/^dir:/, '');
    else if (key === 'lxc.mount.entry') {
      const [source, target, , options] = value.split(/\s+/);
      if (source !== undefined && target !== undefined && (options ?? '').split(',').includes('bind'))
        cfg.mounts.push({ source, target: target.replace(/^\/+/, '') });
    }
  }
  return cfg;
}

/** "major:minor" of a dev_t, as the kernel encodes it. */
export function devToMajorMinor(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/** The whole disk behind a partition (throttling applies to the disk), via sysfs. */
export function wholeDisk(majMin: string, sysRoot = '/sys'): string {
  const p = join(sysRoot, 'dev/block', majMin);
  try {
    if (!existsSync(join(p, 'partition'))) return majMin;
    const parentDev = join(realpathSync(p), '..', 'dev');
    return readFileSync(parentDev, 'utf8').trim();
  } catch {
    return majMin;
  }
}

/** The block device holding `path`, or null for virtual filesystems (tmpfs, nfs, overlay…: major 0). */
export function deviceOf(path: string): string | null {
  try {
    const st = statSync(path, { bigint: true });
    const mm = devToMajorMinor(st.dev);
    if (mm.startsWith('0:')) return null;
    return wholeDisk(mm);
  } catch {
    return null;
  }
}

export interface DiscoveryOptions {
  cgroupRoot: string;
  version: CgroupVersion;
  lxcPath: string;
  diskBindTarget: string;
}

export interface Discovered extends Target {
  pid: number | null;
}

export class Discovery {
  private readonly opts: DiscoveryOptions;
  private readonly cache = new Map<string, Discovered>();

  constructor(opts: DiscoveryOptions) {
    this.opts = opts;
  }

  get version(): CgroupVersion {
    return this.opts.version;
  }

  /** Names of the containers configured under the LXC path (invalid names are ignored, never used). */
  listConfigured(): string[] {
    let entries: string[];
    try {
      entries = readdirSync(this.opts.lxcPath);
    } catch {
      return [];
    }
    return entries.filter((n) => isValidName(n) && existsSync(join(this.opts.lxcPath, n, 'config'))).sort();
  }

  /** Containers with a cgroup (running), freshly resolved. */
  async scan(): Promise<Map<string, Discovered>> {
    const found = new Map<string, Discovered>();
    for (const name of this.listConfigured()) {
      const d = await this.find(name, { fresh: true });
      if (d !== null) found.set(name, d);
    }
    for (const name of [...this.cache.keys()]) if (!found.has(name)) this.cache.delete(name);
    return found;
  }

  /**
   * One container: cached while its cgroup directory exists, re-resolved
   * otherwise; null if it is not on this host or not running.
   */
  async find(name: string, opts: { fresh?: boolean } = {}): Promise<Discovered | null> {
    assertContainerName(name);
    const cached = this.cache.get(name);
    const anyDir = cached && Object.values(cached.cg.dirs)[0];
    if (!opts.fresh && cached !== undefined && anyDir !== undefined && existsSync(anyDir)) return cached;
    this.cache.delete(name);
    const cg = resolveContainerCgroup(this.opts.cgroupRoot, this.opts.version, name);
    if (cg === null) return null;
    const cfgPath = insideDir(this.opts.lxcPath, join(name, 'config'));
    let cfg: LxcConfig = { vethPairs: [], rootfs: null, mounts: [] };
    try {
      cfg = parseLxcConfig(readFileSync(cfgPath, 'utf8'));
    } catch {
      // a cgroup without an LXC config (e.g. made by hand): cgroup limits still apply
    }
    const veth = cfg.vethPairs[0] ?? (await this.vethFromLxcInfo(name));
    const bind = cfg.mounts.find((m) => m.target === this.opts.diskBindTarget);
    const diskDevice =
      bind !== undefined ? deviceOf(bind.source) : cfg.rootfs !== null ? deviceOf(cfg.rootfs) : null;
    const d: Discovered = { cg, veth, diskDevice, pid: firstPid(cg) };
    this.cache.set(name, d);
    return d;
  }

  forget(name: string): void {
    this.cache.delete(name);
  }

  private async vethFromLxcInfo(name: string): Promise<string | null> {
    try {
      const { stdout } = await run('lxc-info', ['-n', name, '-P', this.opts.lxcPath], { timeout: 3000 });
      const m = /^Link:\s+(\S+)$/m.exec(stdout);
      return m?.[1] ?? null;
    } catch {
      return null;
    }
  }
}

/** The container's first process (its init), for the publisher's pid tag. */
export function firstPid(cg: Target['cg']): number | null {
  const dir = cg.dirs.cpu ?? cg.dirs.unified ?? cg.dirs.memory;
  if (dir === undefined) return null;
  try {
    const first = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')[0];
    return first ? Number(first) : null;
  } catch {
    return null;
  }
}
