/**
 * The OOM watchdog a short-lived agent starts (`--exit-when-lapsed`, the local
 * loop's) never outlives it: it exits once the lease it saw is removed, and
 * also when the process that started it is gone before any lease was written.
 * Real processes; the lease names no container, so no cgroup is touched.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { pidAlive, writeLease } from '../../../host-agent/oom-guard.ts';

const dir = mkdtempSync(join(tmpdir(), 'sc-oomwd-'));
const WATCHDOG = 'host-agent/oom-watchdog.ts';
const left: number[] = [];
afterAll(() => {
  for (const pid of left) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function env(lease: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SC_AGENT_HOST: 'wd-host',
    SC_TABLE: 'sc-wd',
    SC_AGENT_OOM_LEASE: lease,
    SC_AGENT_OOM_LEASE_S: '3',
  };
}

/** A parent that starts the watchdog detached (as the local loop does), prints its pid, and exits after `lifeMs`. */
async function startUnderParent(lease: string, lifeMs: number): Promise<number> {
  const script = `const c=require('node:child_process').spawn(process.execPath,[${JSON.stringify(WATCHDOG)},'--exit-when-lapsed'],{detached:true,stdio:'ignore',env:process.env});c.unref();process.stdout.write(String(c.pid));setTimeout(()=>process.exit(0),${lifeMs});`;
  const parent = spawn(process.execPath, ['-e', script], {
    env: env(lease),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  parent.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await new Promise((resolve) => parent.once('exit', resolve));
  const pid = Number(out);
  left.push(pid);
  return pid;
}

async function gone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!pidAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !pidAlive(pid);
}

describe('oom-watchdog --exit-when-lapsed', () => {
  it('exits when its parent is gone and no lease was ever written', async () => {
    const pid = await startUnderParent(join(dir, 'never-lease'), 500);
    expect(await gone(pid, 10_000)).toBe(true);
  }, 30_000);

  it('stays while a lease it saw holds, and exits once that lease is removed', async () => {
    const lease = join(dir, 'held-lease');
    // a live holder (this process) and no containers: nothing to re-arm
    writeLease(lease, { until: Date.now() + 60_000, pid: process.pid, containers: [] });
    const pid = await startUnderParent(lease, 3000);
    // its parent is gone, but the lease it saw still holds: it keeps watching
    expect(await gone(pid, 1500)).toBe(false);
    rmSync(lease);
    expect(await gone(pid, 10_000)).toBe(true);
  }, 30_000);
});
