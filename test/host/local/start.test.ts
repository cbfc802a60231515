/**
 * `npm start` (the whole loop) as a user runs it: it creates and guards a demo
 * LXC container, shows the status table, and on Ctrl-C removes the container
 * and its cgroups and leaves no process behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from '@jest/globals';
import { CGROUP_V1_ROOT, detectHostSupport, LXC_PATH } from '../../../local/containers.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const support = await detectHostSupport();
// Under CI a host without LXC is a failure to see, not a skip.
const describeLxc = support.mode === 'lxc' || process.env.CI === 'true' ? describe : describe.skip;

function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      parents.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const frontier = [root];
  while (frontier.length > 0) {
    const p = frontier.pop();
    for (const [pid, ppid] of parents)
      if (ppid === p) {
        out.push(pid);
        frontier.push(pid);
      }
  }
  return out;
}
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describeLxc('npm start (the whole loop)', () => {
  let child: ChildProcess | null = null;
  afterEach(() => {
    if (child?.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });

  it('guards a demo LXC container, shows its status, and on Ctrl-C removes it and every process', async () => {
    child = spawn('npm', ['start', '--', '--demo', '1', '--config', 'tuned'], {
      cwd: ROOT,
      env: { ...process.env, SC_API_TOKEN: 'host-test-token-1234' },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const waitFor = async (re: RegExp, ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        const m = re.exec(output);
        if (m !== null) return m;
        if (child?.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`no ${re} within ${ms} ms:\n${output}`);
    };
    const name = (await waitFor(/container {3}(sc-demo1-\d+) subscribed and guarded/, 90_000))[1] as string;
    await waitFor(/ready in \d+ ms/, 10_000);
    expect(output).toMatch(/host {8}\S+ registered: \d+ CPUs/);
    expect(output).toMatch(/export SC_API_URL=http:\/\/127\.0\.0\.1:\d+ SC_API_TOKEN=host-test-token-1234/);
    // The status table names the container with its desired and applied CPU (50 shares at subscription).
    await waitFor(new RegExp(`${name} +\\S+/50/50/200`), 15_000);
    expect(existsSync(join(LXC_PATH, name))).toBe(true);
    const tree = descendants(child.pid as number);

    const exited = once(child, 'exit');
    process.kill(-(child.pid as number), 'SIGINT');
    await exited;
    expect(output).toMatch(/\[sc\] stopped/);
    expect(existsSync(join(LXC_PATH, name))).toBe(false);
    expect(existsSync(join(CGROUP_V1_ROOT, 'cpu', `lxc.payload.${name}`))).toBe(false);
    // Named by command line, so a failure says which process was left.
    const cmdline = (pid: number) => {
      try {
        return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()}`;
      } catch {
        return `${pid} (gone)`;
      }
    };
    expect(tree.filter(alive).map(cmdline)).toEqual([]);
  }, 150_000);
});
