/**
 * The OOM guard end to end, as root on real LXC (cgroup v1): the real agent
 * (host-agent/main.ts, a child process) and the real watchdog
 * (host-agent/oom-watchdog.ts, another) against the emulators.
 * - A 3× memory step in a guarded container stalls, the fast path raises, and
 *   the step completes: memory.oom_control `oom_kill` stays 0.
 * - The agent SIGKILLed mid-stall (its DynamoDB unreachable, so it cannot raise):
 *   the watchdog re-arms the OOM killer and the kernel kills the step within
 *   seconds — no hang.
 * - The agent stopped (SIGTERM): it re-arms before it exits; the same step is
 *   killed at once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { aHostState } from '../../support/agent-fakes.ts';
import { type FlakyProxy, startFlakyProxy } from '../../support/flaky-proxy.ts';
import { type Harness, startHarness } from '../support/agent-harness.ts';
import { createContainer, isRoot, TEST_PREFIX, type TestContainer, userSpaceAlloc } from '../support/lxc.ts';

const HOST = `${TEST_PREFIX}-oomg`;
const MiB = 1_048_576;
let h: Harness;
let ddb: FlakyProxy;
let ct: TestContainer;
let dir: string;
let agent: ChildProcess | null = null;
let watchdog: ChildProcess | null = null;

const oomControl = () =>
  readFileSync(`/sys/fs/cgroup/memory/lxc.payload.${ct.name}/memory.oom_control`, 'utf8');
const field = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(oomControl())?.[1] ?? -1);
const limitMiB = () =>
  Number(readFileSync(`/sys/fs/cgroup/memory/lxc.payload.${ct.name}/memory.limit_in_bytes`, 'utf8')) / MiB;
const failcnt = () =>
  Number(readFileSync(`/sys/fs/cgroup/memory/lxc.payload.${ct.name}/memory.failcnt`, 'utf8'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (${oomControl()})`);
    await sleep(10);
  }
}

function env(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SC_AGENT_HOST: HOST,
    SC_TABLE: h.tableName,
    SC_AGENT_WAIT_TIME_S: '1',
    SC_AGENT_RECONCILE_S: '3600',
    SC_AGENT_MEM_WATCH_MS: '20',
    SC_AGENT_MEM_RAISE_PCT: '25',
    SC_AGENT_MEM_RAISE_MIN_MIB: '64',
    SC_AGENT_OOM_LEASE: join(dir, 'oom-lease'),
    SC_AGENT_OOM_LEASE_S: '3',
    SC_AGENT_BACKOFF_MAX_MS: '500',
    AWS_ENDPOINT_URL_DYNAMODB: ddb.endpoint,
    AWS_ENDPOINT_URL_SQS: h.sqsEndpoint,
    LOG_LEVEL: 'warn',
  };
}

/** Every agent this suite started: a failed test must not leave one running (it keeps jest alive). */
const started: ChildProcess[] = [];

function startAgent(): ChildProcess {
  const child = spawn(process.execPath, ['host-agent/main.ts'], {
    env: env(),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  started.push(child);
  return child;
}

beforeAll(async () => {
  if (!isRoot()) throw new Error('the host suite needs root (real cgroups and LXC)');
  dir = mkdtempSync(join(tmpdir(), 'sc-oomg-'));
  h = await startHarness(HOST);
  ddb = await startFlakyProxy(h.dynamoEndpoint);
  ct = await createContainer('oomg');
  // 64 MiB now, up to 1024 MiB, 2 GiB free on the host: memory may grow
  await h.putHost(aHostState(HOST, { [ct.name]: { cpu: 100, mem: 64, memMax: 1024 } }, 2048));
  // the watchdog, limited to this suite's containers (others' tests share the machine)
  watchdog = spawn(process.execPath, ['host-agent/oom-watchdog.ts'], {
    env: env(),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}, 60_000);

afterAll(async () => {
  for (const child of started)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  watchdog?.kill('SIGTERM');
  await ct?.destroy();
  await ddb?.close();
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('the OOM guard on a real container', () => {
  it('lets a 3× memory step stall and grow: no OOM kill', async () => {
    agent = startAgent();
    await h.waitApplied(ct.name, 1, 20_000); // start-up reconciliation: 64 MiB applied
    await waitFor(() => field('oom_kill_disable') === 1, 10_000, 'the guard turns the OOM killer off');
    expect(limitMiB()).toBe(64);
    // ≈ 1.25 × 160 MB = 190 MiB at peak, ≈ 3 × the 64 MiB limit, allocated at once
    const step = await ct.exec(userSpaceAlloc(160_000_000), 30_000);
    expect(step).toMatchObject({ code: 0, stdout: '160000000\n' });
    expect(field('oom_kill')).toBe(0);
    expect(limitMiB()).toBeGreaterThanOrEqual(192); // 64 → 128 → 192 (→ 256): +64 per stall
    expect(field('oom_kill_disable')).toBe(1); // still below max 1024: still guarded
  }, 60_000);

  it('hands a stalled step to the kernel within seconds when the agent is killed mid-stall', async () => {
    if (agent === null) throw new Error('needs the agent of the previous test');
    const limit = limitMiB();
    ddb.down(); // the agent cannot raise any more: the step stays stalled
    const step = ct.exec(userSpaceAlloc(Math.round(limit * MiB * 1.2)), 30_000); // peak 1.5 × the limit
    await waitFor(() => field('under_oom') === 1, 10_000, 'the step stalls');
    await sleep(300);
    expect(field('under_oom')).toBe(1); // stalled, not killed: the agent has not raised
    const before = field('oom_kill');
    const exited = once(agent, 'exit');
    agent.kill('SIGKILL');
    const killedAt = Date.now();
    await exited;
    agent = null;
    const done = await step;
    const tookMs = Date.now() - killedAt;
    expect(done.code).not.toBe(0); // killed by the kernel (busybox sh reports 137)
    expect(field('oom_kill')).toBeGreaterThan(before);
    expect(field('oom_kill_disable')).toBe(0);
    expect(tookMs).toBeLessThan(3000); // pid gone: the watchdog re-arms within its 500 ms poll
    ddb.up();
  }, 60_000);

  it('re-arms when the agent stops: the same step is killed at once', async () => {
    agent = startAgent();
    // start-up, its first reconciliation, then the guard pass (slow when the machine is loaded)
    await waitFor(() => field('oom_kill_disable') === 1, 45_000, 'the restarted agent guards again');
    const exited = once(agent, 'exit');
    agent.kill('SIGTERM');
    await exited;
    agent = null;
    expect(field('oom_kill_disable')).toBe(0); // the agent itself, before it exited
    const before = field('oom_kill');
    const hitsBefore = failcnt();
    let firstHit: number | null = null;
    let settled = false;
    const step = ct.exec(userSpaceAlloc(Math.round(limitMiB() * MiB * 1.2)), 30_000).finally(() => {
      settled = true;
    });
    while (!settled) {
      if (firstHit === null && failcnt() > hitsBefore) firstHit = Date.now();
      await sleep(5);
    }
    const exitedAt = Date.now();
    expect((await step).code).not.toBe(0);
    expect(field('oom_kill')).toBeGreaterThan(before);
    // from the first time the step met its limit to its end: the kernel's kill, not a stall
    expect(firstHit).not.toBeNull();
    expect(exitedAt - (firstHit ?? 0)).toBeLessThan(2000);
  }, 90_000);
});
