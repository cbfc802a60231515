/**
 * Real LXC busybox containers for the host tests (root), with the fixes this
 * machine needs (FACTS.md): no lxcbr0, so a veth without a bridge with a
 * chosen host-side name; `lxc.mount.auto = cgroup:mixed:force`; the busybox
 * DHCP client off (else stop takes 60 s). Every name starts with TEST_PREFIX so
 * a crashed run's leftovers can be swept without touching anyone else's.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);
/**
 * `SC_TEST_LXC_PREFIX` (lower-case letters and digits, 2–8 characters) lets two checkouts run the
 * host tests on one machine at once without sweeping each other's containers.
 */
export const TEST_PREFIX = testPrefix(process.env.SC_TEST_LXC_PREFIX);
export const LXC_PATH = '/var/lib/lxc';

function testPrefix(raw: string | undefined): string {
  if (raw === undefined || raw === '') return 'scag';
  if (!/^[a-z][a-z0-9]{1,7}$/.test(raw)) {
    throw new Error(
      `SC_TEST_LXC_PREFIX must be 2-8 lower-case letters or digits, starting with a letter: ${raw}`,
    );
  }
  return raw;
}
export interface TestContainer {
  name: string;
  veth: string;
  /** Start a long-running command inside; killed with the container. */
  spawn(cmd: string): ChildProcess;
  /** Whether a file exists inside the container (through its rootfs). */
  exists(path: string): boolean;
  /** Run a command inside and wait for it. */
  exec(cmd: string, timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
  destroy(): Promise<void>;
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

async function destroyByName(name: string): Promise<void> {
  await run('lxc-stop', ['-n', name, '-k'], { timeout: 10_000 }).catch(() => undefined);
  await run('lxc-destroy', ['-n', name, '-f'], { timeout: 10_000 }).catch(() => undefined);
}

/** Remove containers left by an earlier crashed run of these tests (our prefix only). */
export async function sweepLeftovers(): Promise<void> {
  const names = await readdir(LXC_PATH).catch(() => [] as string[]);
  for (const n of names) if (n.startsWith(`${TEST_PREFIX}-`)) await destroyByName(n);
}

export async function createContainer(tag: string): Promise<TestContainer> {
  const id = randomBytes(3).toString('hex');
  const name = `${TEST_PREFIX}-${tag}-${id}`;
  const veth = `vs${id}${tag.slice(0, 4)}`.slice(0, 15);
  const conf = `/tmp/${name}.conf`;
  writeFileSync(
    conf,
    [
      'lxc.net.0.type = veth',
      'lxc.net.0.flags = up',
      `lxc.net.0.veth.pair = ${veth}`,
      'lxc.apparmor.profile = unconfined',
      'lxc.mount.auto = cgroup:mixed:force proc:mixed sys:mixed',
      '',
    ].join('\n'),
  );
  try {
    await run('lxc-create', ['-n', name, '-t', 'busybox', '-f', conf], { timeout: 30_000 });
    const rcS = `${LXC_PATH}/${name}/rootfs/etc/init.d/rcS`;
    writeFileSync(rcS, readFileSync(rcS, 'utf8').replace(/^\/bin\/udhcpc.*$/m, 'true'));
    await run('lxc-start', ['-n', name, '-d'], { timeout: 30_000 });
    await run('lxc-wait', ['-n', name, '-s', 'RUNNING', '-t', '10'], { timeout: 15_000 });
  } catch (err) {
    await destroyByName(name);
    throw err;
  }
  const children = new Set<ChildProcess>();
  return {
    name,
    veth,
    spawn(cmd) {
      const child = spawn('lxc-attach', ['-n', name, '--', '/bin/sh', '-c', cmd], { stdio: 'ignore' });
      children.add(child);
      child.on('exit', () => children.delete(child));
      return child;
    },
    exists: (path) => existsSync(`${LXC_PATH}/${name}/rootfs${path}`),
    async exec(cmd, timeoutMs = 30_000) {
      return new Promise((resolve) => {
        const child = spawn('lxc-attach', ['-n', name, '--', '/bin/sh', '-c', cmd]);
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
        });
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.on('exit', (code, signal) => {
          clearTimeout(timer);
          resolve({ code: code ?? (signal === 'SIGKILL' ? 137 : 1), stdout, stderr });
        });
      });
    },
    async destroy() {
      for (const c of children) c.kill('SIGKILL');
      await destroyByName(name);
    },
  };
}

/** Host CPU idle share (0–1, across all cpus) over `ms`, from /proc/stat. */
export async function hostIdleShare(ms: number): Promise<number> {
  const read = () => {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.reduce((a, b) => a + b, 0);
    return { idle, total };
  };
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  const b = read();
  return b.total === a.total ? 1 : (b.idle - a.idle) / (b.total - a.total);
}

/**
 * A shell command that allocates `bytes` from user space (busybox awk builds the string; peak
 * ≈ 1.25 × bytes) and prints its length. Use it to make a task stall under a memory limit with
 * the OOM killer disabled: the kernel only makes a task wait under OOM for faults in user mode;
 * `dd if=/dev/zero bs=48M` faults inside read() and often gets a short read instead of a stall.
 */
export function userSpaceAlloc(bytes: number): string {
  return `awk 'BEGIN { s = sprintf("%${bytes}s", "x"); print length(s) }'`;
}
