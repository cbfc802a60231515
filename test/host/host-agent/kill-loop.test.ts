/**
 * The host agent killed over and over (issue 19: it was SIGKILLed 156 times while requests
 * flowed), with real LXC and cgroups. A sender commits a new desired state for one container
 * and sends its order every ~100 ms, whether an agent runs or not; the agent (host-agent/main.ts,
 * a child process) is started, killed with SIGKILL after a random life — in its start-up, its
 * long poll, or mid-apply — and started again, KILLS times. A sampler reads the cgroup files
 * every few milliseconds the whole time.
 *
 * It holds when: no older order ever reaches the cgroup after a newer one (the sampled quota,
 * decoded to the version that wrote it, never goes back); nothing but that container's CPU
 * quota is written (a second container, never ordered, keeps its limits, and memory only ever
 * holds its desired limit); and once a last agent runs, the container converges to the newest desired state,
 * every queued order is consumed, none is dead-lettered, and a graceful stop leaves the OOM
 * killer armed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { aHostState } from '../../support/agent-fakes.ts';
import { type Harness, startHarness } from '../support/agent-harness.ts';
import { createContainer, isRoot, TEST_PREFIX, type TestContainer } from '../support/lxc.ts';

const HOST = `${TEST_PREFIX}-kill`;
/** Kills in the loop (about 1.5 s each on a loaded 2-core machine: well under a minute). */
const KILLS = 30;
/** CPU shares of version v: distinct for 180 versions in a row (decoded back below). */
const cpuOf = (v: number) => 10 + (v % 180);
const BYSTANDER_CPU = 80;

let h: Harness;
let target: TestContainer;
let bystander: TestContainer;
let child: ChildProcess | null = null;
let leaseDir: string;

const cg = (ct: TestContainer, ctrl: string, file: string) =>
  readFileSync(`/sys/fs/cgroup/${ctrl}/lxc.payload.${ct.name}/${file}`, 'utf8').trim();

function agentEnv(): Record<string, string> {
  return {
    SC_AGENT_HOST: HOST,
    SC_TABLE: h.tableName,
    SC_AGENT_WAIT_TIME_S: '20',
    SC_AGENT_RECONCILE_S: '3600',
    SC_AGENT_MEM_WATCH_MS: '0',
    SC_AGENT_OOM_LEASE: join(leaseDir, 'oom-lease'),
  };
}

function startAgent(): ChildProcess {
  return spawn(process.execPath, ['host-agent/main.ts'], {
    env: {
      ...process.env,
      ...agentEnv(),
      AWS_ENDPOINT_URL_DYNAMODB: h.dynamoEndpoint,
      AWS_ENDPOINT_URL_SQS: h.sqsEndpoint,
      LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function desire(version: number): Promise<void> {
  const s = aHostState(
    HOST,
    {
      [target.name]: { cpu: cpuOf(version), mem: 256, memMax: 256, version },
      [bystander.name]: { cpu: BYSTANDER_CPU, mem: 256, memMax: 256, version: 1 },
    },
    512,
  );
  await h.putHost({ ...s, version });
}

beforeAll(async () => {
  if (!isRoot()) throw new Error('the host suite needs root (real cgroups and LXC)');
  leaseDir = mkdtempSync(join(tmpdir(), 'sc-kill-'));
  h = await startHarness(HOST);
  [target, bystander] = await Promise.all([createContainer('killt'), createContainer('killb')]);
  await desire(1);
}, 90_000);

afterAll(async () => {
  child?.kill('SIGKILL');
  await Promise.all([target?.destroy(), bystander?.destroy()]);
  await h?.close();
  rmSync(leaseDir, { recursive: true, force: true });
}, 60_000);

describe(`the agent killed ${KILLS} times while orders flow`, () => {
  it('never writes an older order after a newer one, writes nothing else, and converges', async () => {
    const memBefore = cg(target, 'memory', 'memory.limit_in_bytes');
    // The sampler: every change of the target's quota, decoded to the newest version that could
    // have written it (the sender is at `sent`; versions repeat their value only 180 apart).
    let sent = 1;
    let sampling = true;
    const seen: { version: number; quota: string }[] = [];
    const bystanderQuotas = new Set<string>();
    const memLimits = new Set<string>();
    let last = '';
    const sampler = (async () => {
      while (sampling) {
        const q = cg(target, 'cpu', 'cpu.cfs_quota_us');
        if (q !== last && q !== '-1') {
          last = q;
          const shares = Number(q) / 1000;
          let v = sent - ((((sent - (shares - 10)) % 180) + 180) % 180);
          if (v < 1) v = 1;
          seen.push({ version: v, quota: q });
        }
        const b = cg(bystander, 'cpu', 'cpu.cfs_quota_us');
        if (b !== '-1') bystanderQuotas.add(b);
        memLimits.add(cg(target, 'memory', 'memory.limit_in_bytes'));
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
    // The sender: the planner's order of things (commit, then send), agent up or not.
    let sending = true;
    const sender = (async () => {
      while (sending) {
        const v = sent + 1;
        await desire(v);
        sent = v;
        await h.send(target.name, v, { cpuShares: cpuOf(v) });
        await new Promise((r) => setTimeout(r, 60 + Math.random() * 80));
      }
    })();

    const t0 = Date.now();
    for (let k = 0; k < KILLS; k++) {
      child = startAgent();
      const exited = once(child, 'exit');
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 1200));
      child.kill('SIGKILL');
      const [code, signal] = await exited;
      expect({ k, code, signal }).toEqual({ k, code: null, signal: 'SIGKILL' });
      child = null;
      await new Promise((r) => setTimeout(r, Math.random() * 200));
    }
    const loopS = (Date.now() - t0) / 1000;
    sending = false;
    await sender;
    const final = sent;

    // A last agent, left running: the newest state, and the queue drained.
    child = startAgent();
    const report = await h.waitApplied(target.name, final, 20_000);
    expect(report).toMatchObject({ appliedVersion: final, outcome: 'applied' });
    await waitUntil(async () => {
      const a = await queueDepth(h.queues.queueUrl);
      return a.visible === 0 && a.inFlight === 0;
    }, 20_000);
    expect(cg(target, 'cpu', 'cpu.cfs_quota_us')).toBe(String(cpuOf(final) * 1000));
    expect(await queueDepth(h.queues.dlqUrl)).toEqual({ visible: 0, inFlight: 0 });
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
    child = null;
    sampling = false;
    await sampler;

    // No older order after a newer one reached the cgroup.
    const backwards = seen.filter(
      (s, i) => i > 0 && s.version < (seen[i - 1] as { version: number }).version,
    );
    expect(backwards).toEqual([]);
    expect(seen.length).toBeGreaterThan(KILLS / 3); // the sampler did see the orders land
    // Nothing else was written: the bystander holds its desired limit, memory is untouched.
    expect([...bystanderQuotas]).toEqual([String(BYSTANDER_CPU * 1000)]);
    const desiredMem = String(256 * 1_048_576);
    expect([...memLimits].filter((m) => m !== memBefore && m !== desiredMem)).toEqual([]);
    expect(cg(target, 'memory', 'memory.limit_in_bytes')).toBe(desiredMem);
    // A graceful stop leaves the OOM killer armed on both.
    for (const ct of [target, bystander])
      expect(cg(ct, 'memory', 'memory.oom_control')).toMatch(/oom_kill_disable 0/);
    process.stderr.write(
      `kill loop: ${KILLS} kills in ${loopS.toFixed(1)} s, ${final - 1} orders, ${seen.length} quota changes seen\n`,
    );
  }, 120_000);
});

async function queueDepth(url: string): Promise<{ visible: number; inFlight: number }> {
  const a = await h.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(a.Attributes?.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
}

async function waitUntil(cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
