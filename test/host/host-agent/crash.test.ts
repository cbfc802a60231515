/**
 * kill -9 between the cgroup write and the message's delete: the order comes
 * back, the restarted agent finds the files already hold it (writes nothing),
 * reports it and deletes it — applied exactly once in effect.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
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

const HOST = `${TEST_PREFIX}-crash`;
let h: Harness;
let ct: TestContainer;
let child: ChildProcess | null = null;
let agent: HostAgent | null = null;
const destroyers: { destroy(): void }[] = [];

const quota = () => readFileSync(`/sys/fs/cgroup/cpu/lxc.payload.${ct.name}/cpu.cfs_quota_us`, 'utf8').trim();

function agentEnv(): Record<string, string> {
  return {
    SC_AGENT_HOST: HOST,
    SC_TABLE: h.tableName,
    SC_AGENT_WAIT_TIME_S: '1',
    SC_AGENT_VISIBILITY_TIMEOUT_S: '3',
    SC_AGENT_VISIBILITY_HEARTBEAT_S: '1',
    SC_AGENT_RECONCILE_S: '3600',
    SC_AGENT_MEM_WATCH_MS: '0',
  };
}

beforeAll(async () => {
  if (!isRoot()) throw new Error('the host suite needs root (real cgroups and LXC)');
  h = await startHarness(HOST, { visibilityTimeoutS: 3 });
  ct = await createContainer('crash');
  await h.putHost(aHostState(HOST, { [ct.name]: { cpu: 100, mem: 256, memMax: 256 } }, 1024));
}, 60_000);

afterAll(async () => {
  child?.kill('SIGKILL');
  await agent?.stop();
  for (const d of destroyers) d.destroy();
  await ct?.destroy();
  await h?.close();
}, 60_000);

describe('kill -9 between the cgroup write and the delete', () => {
  it('applies the order exactly once in effect', async () => {
    child = spawn(process.execPath, ['test/host/support/crash-agent.ts'], {
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
    await h.waitApplied(ct.name, 1, 20_000); // start-up reconciliation (not an order: no crash)
    // As the planner does: commit the desired state at v2, then send the order.
    const v2 = aHostState(HOST, { [ct.name]: { cpu: 70, mem: 256, memMax: 256 } }, 1024);
    const c2 = v2.containers[ct.name];
    if (c2 !== undefined) c2.desiredVersion = 2;
    await h.putHost({ ...v2, version: 2 });
    await h.send(ct.name, 2, { cpuShares: 70 });
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });
    child = null;

    // The write happened; the report and the delete did not.
    expect(quota()).toBe('70000');
    expect((await h.applied(ct.name))?.appliedVersion).toBe(1);
    const attrs = await h.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: h.queues.queueUrl,
        AttributeNames: ['ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    expect(attrs.Attributes?.ApproximateNumberOfMessagesNotVisible).toBe('1');

    // Restart: reconciliation or the returning message finishes v2 without a second write.
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
    await agent.start();
    const report = await h.waitApplied(ct.name, 2, 15_000);
    expect(report).toMatchObject({ outcome: 'applied', appliedVersion: 2 });
    expect((report.limits as { cpuShares: number }).cpuShares).toBe(70);
    expect(quota()).toBe('70000');
    // the queue drains: the returning message is a duplicate of what is applied
    await waitUntil(async () => {
      const a = await h.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: h.queues.queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      return (
        a.Attributes?.ApproximateNumberOfMessages === '0' &&
        a.Attributes?.ApproximateNumberOfMessagesNotVisible === '0'
      );
    }, 15_000);
    const applies = lines.filter((l) => l.msg === 'order applied');
    expect(applies.length).toBeGreaterThan(0);
    expect(applies.flatMap((l) => l.written as string[])).toEqual([]);
    await agent.stop();
    agent = null;
    expect((await h.applied(ct.name))?.appliedVersion).toBe(2);
  }, 60_000);
});

async function waitUntil(cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
