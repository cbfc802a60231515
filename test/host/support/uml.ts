/**
 * A cgroup v2 host for the host tests: Debian's user-mode-linux kernel (6.1, run as an ordinary
 * process, no KVM) booted ONCE per suite by scripts/uml-v2.sh with this machine's filesystem as
 * its root, cgroup2 mounted with +cpu +memory +io +pids, a file-backed block device (ubda, 98:0)
 * and real LXC busybox containers prepared here (lxc-create inside UML takes ~60 s; here 0.4 s)
 * and started in there. A guest program (Node 24 from node_modules) runs the real agent code and
 * writes what the kernel showed to results.json in the work directory, which hostfs shares with
 * this side; the tests assert on those values.
 *
 * linux.uml missing fails (setup.sh installs it): a missing capability never turns into a skip.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const UML_SCRIPT = join(REPO, 'scripts/uml-v2.sh');
export const NODE = join(REPO, 'node_modules/.bin/node');
/** Where the guest mounts the ubd disk, and where each container bind-mounts it (the agent's default). */
export const GUEST_DATA_DIR = '/run/sc-data';
export const DATA_BIND_TARGET = 'opt/bind';

export interface UmlRun<R> {
  /** The guest's console (init's and the program's output). */
  console: string;
  exitCode: number;
  /** Wall seconds from spawn to halt. */
  seconds: number;
  results: R;
}

/** linux.uml on PATH, or an error that says how to install it. */
export function assertUmlInstalled(): void {
  const bin = process.env.SC_UML_BIN ?? 'linux.uml';
  const found = (process.env.PATH ?? '').split(delimiter).some((d) => existsSync(join(d, bin)));
  if (!found && !existsSync(bin))
    throw new Error(
      `${bin} is missing: the cgroup v2 tests need Debian's user-mode-linux (scripts/setup.sh installs it)`,
    );
  if (process.getuid?.() !== 0) throw new Error('the UML suite needs root (lxc-create, mkfs)');
}

/** A work directory shared with the guest through hostfs; removed by `cleanup` unless SC_UML_KEEP=1. */
export function umlWorkDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'sc-uml-'));
  return {
    dir,
    cleanup: () => {
      if (process.env.SC_UML_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A file-backed ext4 disk for the guest (ubda, 98:0). */
export async function makeDisk(path: string, mib: number): Promise<void> {
  writeFileSync(path, '');
  await run('truncate', ['-s', `${mib}M`, path]);
  await run('mkfs.ext4', ['-q', '-F', path], { timeout: 30_000 });
}

/**
 * A busybox LXC container under `lxcPath`, created on this side for the guest to start:
 * no network (UML has no bridge or veth peer to give it), the ubd disk bind-mounted at
 * opt/bind, the busybox DHCP client off.
 */
export async function prepareLxc(lxcPath: string, name: string): Promise<void> {
  mkdirSync(lxcPath, { recursive: true });
  const conf = join(lxcPath, `${name}.conf`);
  writeFileSync(
    conf,
    [
      'lxc.net.0.type = empty',
      'lxc.apparmor.profile = unconfined',
      'lxc.tty.max = 0',
      'lxc.pty.max = 0',
      'lxc.console.path = none',
      'lxc.mount.auto = cgroup:mixed:force proc:mixed sys:mixed',
      `lxc.mount.entry = ${GUEST_DATA_DIR} ${DATA_BIND_TARGET} none bind,create=dir 0 0`,
      '',
    ].join('\n'),
  );
  await run('lxc-create', ['-P', lxcPath, '-n', name, '-t', 'busybox', '-f', conf], { timeout: 60_000 });
  const rcS = join(lxcPath, name, 'rootfs/etc/init.d/rcS');
  writeFileSync(rcS, readFileSync(rcS, 'utf8').replace(/^\/bin\/udhcpc.*$/m, 'true'));
}

/**
 * Boot the v2 kernel once and run `program` (a .ts file, on the project's Node 24) with `work`
 * and `args` as its arguments; the program writes `results.json` into `work`. Resolves when the kernel halted.
 */
export async function bootUml<R>(opts: {
  work: string;
  program: string;
  args?: readonly string[];
  disk?: string;
  mem?: string;
  timeoutS?: number;
  onConsole?: (line: string) => void;
}): Promise<UmlRun<R>> {
  const started = Date.now();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SC_UML_MEM: opts.mem ?? '1G',
    SC_UML_TIMEOUT_S: String(opts.timeoutS ?? 300),
  };
  if (opts.disk !== undefined) env.SC_UML_DISK = opts.disk;
  const child = spawn(UML_SCRIPT, [opts.work, NODE, opts.program, opts.work, ...(opts.args ?? [])], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let partial = '';
  const onData = (d: Buffer) => {
    const text = d.toString();
    out += text;
    if (opts.onConsole === undefined) return;
    partial += text;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) opts.onConsole(l);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exitCode = await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  const resultsPath = join(opts.work, 'results.json');
  if (!existsSync(resultsPath))
    throw new Error(`the guest wrote no results (exit ${exitCode}); console:\n${out.slice(-4000)}`);
  return {
    console: out,
    exitCode,
    seconds: (Date.now() - started) / 1000,
    results: JSON.parse(readFileSync(resultsPath, 'utf8')) as R,
  };
}
