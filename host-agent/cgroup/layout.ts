/**
 * Where a container's cgroup lives: v1 (one hierarchy per controller under the
 * root) or v2 (one unified hierarchy), detected once at start, and every path
 * resolved so that it can never leave the container's own directory.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { isValidName, NAME_RULE_TEXT } from '../../core/contracts/names.ts';
import { UnknownContainerError, UnsafePathError } from '../errors.ts';

export type CgroupVersion = 'v1' | 'v2';
/** v1 controllers the agent touches, and 'unified' for the single v2 hierarchy. */
export type Controller = 'cpu' | 'cpuacct' | 'cpuset' | 'memory' | 'blkio' | 'unified';
export const V1_CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'blkio'] as const;

/** The container's cgroup directory per controller (v1) or its one unified directory (v2). */
export interface ContainerCgroup {
  readonly name: string;
  readonly version: CgroupVersion;
  readonly dirs: Readonly<Partial<Record<Controller, string>>>;
}

/** cgroup directory names LXC uses for a container, newest first (LXC ≥ 4, then LXC ≤ 3). */
export function lxcCgroupCandidates(name: string): string[] {
  return [`lxc.payload.${name}`, `lxc/${name}`];
}

/** v2 if the root is a unified hierarchy (cgroup.controllers at the top), else v1 if controllers are mounted. */
export function detectCgroupVersion(root: string): CgroupVersion {
  if (existsSync(join(root, 'cgroup.controllers'))) return 'v2';
  if (existsSync(join(root, 'cpu')) || existsSync(join(root, 'memory'))) return 'v1';
  throw new UnknownContainerError(`no cgroup hierarchy found under ${root}`, { context: { root } });
}

/** Refuse anything but a strict container name. */
export function assertContainerName(name: unknown): asserts name is string {
  if (!isValidName(name)) {
    throw new UnsafePathError(`invalid container name ${JSON.stringify(name)}: ${NAME_RULE_TEXT}`, {
      context: { container: typeof name === 'string' ? name : String(name) },
    });
  }
}

/** `base/rel` resolved, or UnsafePathError if the result is not strictly inside `base`. */
export function insideDir(base: string, rel: string): string {
  const b = resolve(base);
  const p = resolve(b, rel);
  if (!p.startsWith(b + sep) || rel.includes('\0')) {
    throw new UnsafePathError(`path ${JSON.stringify(rel)} escapes ${b}`, { context: { base: b, rel } });
  }
  return p;
}

const FILE_PATTERN = /^[a-z][a-z0-9_]*\.[a-z0-9_.]+$/;

/** The full path of a cgroup file of the container, checked to stay in its directory. */
export function cgroupFile(cg: ContainerCgroup, controller: Controller, file: string): string {
  const dir = cg.dirs[controller];
  if (dir === undefined) {
    throw new UnknownContainerError(`container ${cg.name} has no ${controller} cgroup`, {
      context: { container: cg.name, controller },
    });
  }
  if (!FILE_PATTERN.test(file)) {
    throw new UnsafePathError(`not a cgroup file name: ${JSON.stringify(file)}`, {
      context: { container: cg.name, file },
    });
  }
  return insideDir(dir, file);
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Resolve a container's cgroup directories, or null when it has none (not
 * running, or not on this host). The name is validated first, so no name
 * can reach outside the hierarchy.
 */
export function resolveContainerCgroup(
  root: string,
  version: CgroupVersion,
  name: string,
): ContainerCgroup | null {
  assertContainerName(name);
  if (version === 'v2') {
    for (const rel of lxcCgroupCandidates(name)) {
      const dir = insideDir(root, rel);
      if (isDir(dir)) return { name, version, dirs: { unified: dir } };
    }
    return null;
  }
  for (const rel of lxcCgroupCandidates(name)) {
    const dirs: Partial<Record<Controller, string>> = {};
    for (const c of V1_CONTROLLERS) {
      const dir = insideDir(join(root, c), rel);
      if (isDir(dir)) dirs[c] = dir;
    }
    if (dirs.cpu !== undefined || dirs.memory !== undefined) return { name, version, dirs };
  }
  return null;
}
