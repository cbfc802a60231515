/**
 * The agent after a crash (issue 19, items 10 and 11), with real LXC and cgroups:
 * an agent killed with SIGKILL while long-polling leaves a receive pending on the
 * queue, and orders older than the desired state are queued. After the restart no
 * stale order reaches the cgroup (the first reconcile runs before the consumer and
 * the desired version it read turns older orders into no-ops), and an order sent
 * right after the crash applies within 6 s of the restart, though the dead poll
 * took it (short visibility).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { systemClock } from '../../../adapters/clock.ts';
import { createLogger } from '../../../adapters/logger.ts';
import { HostAgent } from '../../../host-agent/agent.ts';
import { LiteTable } from '../../../host-agent/aws/dynamo.ts';
import { LiteSqs } from '../../../host-agent/aws/sqs.ts';
import { loadAgentConfig } from '../../../host-agent/config.ts';
import { tcShaper } from '../../../host-agent/net/tc.ts';
import { DynamoAgentState } from '../../../host-agent/state.ts';
import { aHostState } from '../../support/agent-fakes.ts';
import { type Harness, startHarness } from '../support/agent-harness.ts';
import { createContainer, isRoot, TEST_PREFIX, type TestContainer } from '../support/lxc.ts';

const HOST = `${TEST_PREFIX}-restart`;
let h: Harness;
let ct: TestContainer;
let child: ChildProcess | null = null;
let agent: HostAgent | null = null;
const destroyers: { destroy(): void }[] = [];

const quota = () => readFileSync(`/sys/fs/cgroup/cpu/lxc.payload.${ct.name}/cpu.cfs_quota_us`, 'utf8').trim();

/** The default visibility (3 s) and heartbeat; a 20 s long poll, as in production. */
function agentEnv(): Record<string, string> {
  return {
    SC_AGENT_HOST: HOST,
    SC_TABLE: h.tableName,
    SC_AGENT_WAIT_TIME_S: '20',
    SC_AGENT_RECONCILE_S: '3600',
    SC_AGENT_MEM_WATCH_MS: '0',
  };
}

async function desire(version: number, cpu: number): Promise<void> {
  const s = aHostState(HOST, { [ct.name]: { cpu, mem: 256, memMax: 256 } }, 1024);
  const c = s.containers[ct.name];
  if (c !== undefined) c.desiredVersion = version;
  await h.putHost({ ...s, version });
}

beforeAll(async () => {
  if (!isRoot()) throw new Error('the host suite needs root (real cgroups and LXC)');
  h = await startHarness(HOST);
  ct = await createContainer('restart');
  await h.putHost(aHostState(HOST, { [ct.name]: { cpu: 100, mem: 256, memMax: 256 } }, 1024));
}, 60_000);

afterAll(async () => {
  child?.kill('SIGKILL');
  await agent?.stop();
  for (const d of destroyers) d.destroy();
  await ct?.destroy();
  await h?.close();
}, 60_000);

describe('restart after SIGKILL during a long poll', () => {
  it('writes no stale order and applies the order sent after the crash within 6 s', async () => {
    child = spawn(process.execPath, ['host-agent/main.ts'], {
      env: {
        ...process.env,
        ...agentEnv(),
        AWS_ENDPOINT_URL_DYNAMODB: h.dynamoEndpoint,
        AWS_ENDPOINT_URL_SQS: h.sqsEndpoint,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const exited = once(child, 'exit');
    await h.waitApplied(ct.name, 1, 20_000);
    await new Promise((r) => setTimeout(r, 500)); // the agent is now inside its 20 s long poll
    child.kill('SIGKILL');
    await exited;
    child = null;

    // While it was down: the planner committed v2…v5 and sent their orders (v2–v4 are stale now),
    // then committed v6 and sent it right after. The dead agent's pending receive takes the first.
    for (const [v, cpu] of [
      [2, 20],
      [3, 30],
      [4, 40],
      [5, 50],
    ] as const) {
      await desire(v, cpu);
      await h.send(ct.name, v, { cpuShares: cpu });
    }
    await desire(6, 60);
    await h.send(ct.name, 6, { cpuShares: 60 });

    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split('\n'))
          if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const table = new LiteTable(h.tableName, { endpoint: h.dynamoEndpoint, region: 'us-east-1' });
    const sqs = new LiteSqs({ endpoint: h.sqsEndpoint, region: 'us-east-1' });
    destroyers.push(table, sqs);
    agent = new HostAgent({
      config: loadAgentConfig(agentEnv()),
      sqs,
      store: new DynamoAgentState(table, HOST),
      shaper: tcShaper(),
      clock: systemClock,
      log: createLogger('agent', { level: 'info', destination: sink }),
    });
    const t0 = Date.now();
    await agent.start();
    await h.waitApplied(ct.name, 6, 6_000);
    expect(Date.now() - t0).toBeLessThan(6_000);
    expect(quota()).toBe('60000');
    // Every queued order is consumed within a few seconds (the dead receive holds v2 ≤ 3 s) …
    await waitUntil(() => lines.filter((l) => /stale|duplicate/.test(String(l.msg))).length >= 5, 8_000);
    // … and none older than v6 was ever written into the cgroup.
    const writes = lines.filter(
      (l) => l.msg === 'order applied' && Array.isArray(l.written) && (l.written as unknown[]).length > 0,
    );
    expect(writes.map((l) => l.version)).toEqual([6]);
    expect(quota()).toBe('60000');
  }, 60_000);
});

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
