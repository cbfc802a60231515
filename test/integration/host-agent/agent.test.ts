/**
 * The whole agent against the emulators (fauxqs, dynalite and DynamoDB Local),
 * writing a temporary v1 cgroup tree: orders through the real queue, reports
 * in the real table, faults in between. Real cgroups and LXC are in test/host/.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createSqsClient } from '../../../adapters/aws.ts';
import { systemClock } from '../../../adapters/clock.ts';
import { silentLogger } from '../../../adapters/logger.ts';
import { ensureHostQueues, sendOrder } from '../../../adapters/sqs/order-queues.ts';
import { orderId, type ScaleOrder } from '../../../core/contracts/order.ts';
import { DEFAULT_QUEUE_PREFIX } from '../../../core/contracts/order-queue.ts';
import { keys } from '../../../core/contracts/table-layout.ts';
import { HostAgent } from '../../../host-agent/agent.ts';
import { LiteTable } from '../../../host-agent/aws/dynamo.ts';
import { LiteSqs } from '../../../host-agent/aws/sqs.ts';
import { loadAgentConfig } from '../../../host-agent/config.ts';
import { DynamoAgentState } from '../../../host-agent/state.ts';
import { aHostState, fakeShaper } from '../../support/agent-fakes.ts';
import { type CgroupTree, makeCgroupTree } from '../../support/cgroup-tree.ts';
import { createTestTable, type TestTable } from '../../support/dynamo.ts';
import { DYNAMO_FLAVOURS, dynamoEndpoint, sqsEndpoint, uniqueName } from '../../support/env.ts';
import { type FlakyProxy, startFlakyProxy } from '../../support/flaky-proxy.ts';

async function until<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.each(DYNAMO_FLAVOURS)('host agent on the emulators (%s)', (flavour) => {
  let t: TestTable;
  let tree: CgroupTree;
  let lxcPath: string;
  let sqs: SQSClient;
  let host: string;
  let queues: Awaited<ReturnType<typeof ensureHostQueues>>;
  let agent: HostAgent | null = null;
  let sqsProxy: FlakyProxy;
  let ddbProxy: FlakyProxy;
  let agentSqs: LiteSqs;
  let agentTable: LiteTable;

  beforeEach(async () => {
    t = await createTestTable(flavour);
    tree = makeCgroupTree('v1');
    tree.addContainer('c1');
    lxcPath = mkdtempSync(join(tmpdir(), 'sc-lxc-'));
    mkdirSync(join(lxcPath, 'c1'));
    writeFileSync(join(lxcPath, 'c1', 'config'), 'lxc.net.0.veth.pair = vhc1\n');
    sqs = createSqsClient({ endpoint: sqsEndpoint(), region: 'us-east-1' });
    host = uniqueName('h');
    queues = await ensureHostQueues(sqs, host, { maxReceiveCount: 2, visibilityTimeoutS: 5 });
    const state = aHostState(host, { c1: { cpu: 100, mem: 256, version: 1 } });
    await t.table.put({ ...keys.hostState(host), ...state, queueUrl: queues.queueUrl });
    sqsProxy = await startFlakyProxy(sqsEndpoint());
    ddbProxy = await startFlakyProxy(dynamoEndpoint(flavour));
    // Recorded as the agent's calls (the per-host policy is proven against them).
    const record = { deployable: 'host-agent', table: t.tableName, queuePrefix: DEFAULT_QUEUE_PREFIX, host };
    agentSqs = new LiteSqs({
      endpoint: sqsProxy.endpoint,
      region: 'us-east-1',
      requestTimeoutMs: 5000,
      record,
    });
    agentTable = new LiteTable(t.tableName, {
      endpoint: ddbProxy.endpoint,
      region: 'us-east-1',
      requestTimeoutMs: 2000,
      record,
    });
  });

  afterEach(async () => {
    await agent?.stop();
    agent = null;
    agentSqs.destroy();
    agentTable.destroy();
    await sqsProxy.close();
    await ddbProxy.close();
    sqs.destroy();
    tree.cleanup();
    rmSync(lxcPath, { recursive: true, force: true });
    await t.drop();
  });

  async function startAgent(env: Record<string, string> = {}): Promise<HostAgent> {
    const config = loadAgentConfig({
      SC_AGENT_HOST: host,
      SC_TABLE: t.tableName,
      SC_AGENT_CGROUP_ROOT: tree.root,
      SC_AGENT_LXC_PATH: lxcPath,
      SC_AGENT_WAIT_TIME_S: '1',
      SC_AGENT_VISIBILITY_TIMEOUT_S: '5',
      SC_AGENT_VISIBILITY_HEARTBEAT_S: '2',
      SC_AGENT_UNKNOWN_RETRY_S: '0',
      SC_AGENT_BACKOFF_MIN_MS: '50',
      SC_AGENT_BACKOFF_MAX_MS: '400',
      SC_AGENT_RECONCILE_S: '3600',
      SC_AGENT_MEM_WATCH_MS: '0',
      ...env,
    });
    const a = new HostAgent({
      config,
      sqs: agentSqs,
      store: new DynamoAgentState(agentTable, host),
      shaper: fakeShaper(),
      clock: systemClock,
      log: silentLogger,
      facts: { cpus: ['0', '1'], memMiB: 4096 },
    });
    agent = a;
    await a.start();
    return a;
  }

  function anOrder(version: number, limits: ScaleOrder['limits'], container = 'c1'): ScaleOrder {
    const now = Date.now();
    return {
      kind: 'scale-order',
      orderId: orderId(container, version),
      host,
      container,
      desiredVersion: version,
      issuedAt: now,
      expiresAt: now + 60_000,
      limits,
      reasons: [],
    };
  }

  const applied = async (container = 'c1') => t.table.get(keys.applied(host, container));
  const quota = () => tree.read('c1', 'cpu', 'cpu.cfs_quota_us').trim();

  async function queueEmpty(url: string): Promise<boolean> {
    const out = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return (
      out.Attributes?.ApproximateNumberOfMessages === '0' &&
      out.Attributes?.ApproximateNumberOfMessagesNotVisible === '0'
    );
  }

  it('reconciles on start, reporting the real limits, and sends a heartbeat', async () => {
    await startAgent();
    const report = await until(
      'the start-up report',
      async () => (await applied())?.appliedVersion === 1 && applied(),
    );
    expect(report).toMatchObject({ via: 'reconcile', outcome: 'applied' });
    expect(quota()).toBe('100000'); // desired 100 shares × 100000 / 100
    const hb = await t.table.get(keys.agent(host));
    expect(hb).toMatchObject({ host, cgroupVersion: 'v1', containers: ['c1'], periodS: 60 }); // the default period, announced
  });

  it('skips heartbeats while reports keep landing, and writes one a period after the last report', async () => {
    await startAgent({ SC_AGENT_HEARTBEAT_S: '3' });
    const beat = async () => (await t.table.get(keys.agent(host)))?.at as number | undefined;
    const at0 = await until('the start-up heartbeat', beat);
    // an order every 200 ms for 4 s: a report lands well within every 3 s period
    for (let v = 2; v <= 21; v++) {
      await sendOrder(sqs, queues.queueUrl, anOrder(v, { cpuShares: v % 2 === 0 ? 120 : 80 }));
      await new Promise((r) => setTimeout(r, 200));
    }
    const last = await until('the last report', async () => {
      const r = await applied();
      return r?.appliedVersion === 21 && r;
    });
    expect(await beat()).toBe(at0); // no heartbeat written while busy (4 s > the 3 s period)
    const next = await until('the next heartbeat', async () => {
      const at = await beat();
      return at !== at0 && at;
    });
    const lastAt = last.appliedAt as number;
    expect(next - lastAt).toBeGreaterThanOrEqual(3000); // one period after the last sign of life
    expect(next - lastAt).toBeLessThan(3000 + 2000);
  });

  it('applies orders from the queue, newest wins, and deletes them only once applied and reported', async () => {
    await startAgent();
    await until('start-up', async () => (await applied())?.appliedVersion === 1);
    await sendOrder(sqs, queues.queueUrl, anOrder(3, { cpuShares: 150 }));
    await sendOrder(sqs, queues.queueUrl, anOrder(2, { cpuShares: 50 }));
    await sendOrder(sqs, queues.queueUrl, anOrder(3, { cpuShares: 150 })); // duplicate (deduplicated or no-op)
    await until('v3 applied', async () => (await applied())?.appliedVersion === 3);
    await until('queue drained', () => queueEmpty(queues.queueUrl));
    expect(quota()).toBe('150000');
    expect((await applied())?.limits).toMatchObject({ cpuShares: 150 });
  });

  it('sends a malformed message straight to the DLQ, writing nothing', async () => {
    await startAgent();
    await until('start-up', async () => (await applied())?.appliedVersion === 1);
    const before = quota();
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queues.queueUrl,
        MessageBody: JSON.stringify({ ...anOrder(9, { cpuShares: 150 }), container: '../../etc' }),
        MessageGroupId: 'x',
        MessageDeduplicationId: 'bad-1',
      }),
    );
    const dead = await until('the DLQ message', async () => {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.dlqUrl, WaitTimeSeconds: 1 }));
      return out.Messages?.[0];
    });
    expect(dead.Body).toContain('../../etc');
    expect(quota()).toBe(before);
    expect((await applied())?.appliedVersion).toBe(1);
  });

  it('dead-letters an order for a container unknown to the host and its state after the retries, writing no APPLIED item', async () => {
    await startAgent();
    await sendOrder(sqs, queues.queueUrl, anOrder(1, { cpuShares: 50 }, 'ghost'));
    const dead = await until(
      'the DLQ message',
      async () => {
        const out = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queues.dlqUrl, WaitTimeSeconds: 1 }),
        );
        return out.Messages?.[0];
      },
      20_000,
    );
    expect(dead.Body).toContain('ghost');
    expect(await applied('ghost')).toBeNull(); // nothing would ever remove it
  });

  it('backs off while SQS and DynamoDB are unreachable and applies the order once they are back', async () => {
    await startAgent();
    await until('start-up', async () => (await applied())?.appliedVersion === 1);
    sqsProxy.down();
    ddbProxy.down();
    await sendOrder(sqs, queues.queueUrl, anOrder(2, { cpuShares: 70 }));
    await new Promise((r) => setTimeout(r, 1500));
    expect(quota()).toBe('100000');
    expect((agent?.consumer?.stats.receiveErrors ?? 0) > 0).toBe(true);
    sqsProxy.up(); // the order is taken and written, but cannot be reported yet
    // Recovery waits out the current backoff step; generous on a loaded machine.
    await until('the write', async () => quota() === '70000', 30_000);
    expect((await applied())?.appliedVersion).toBe(1);
    ddbProxy.up();
    await until('the report', async () => (await applied())?.appliedVersion === 2, 30_000);
    await until('queue drained', () => queueEmpty(queues.queueUrl), 15_000);
  }, 90_000);

  it('drains the order in flight on stop', async () => {
    const a = await startAgent();
    await until('start-up', async () => (await applied())?.appliedVersion === 1);
    ddbProxy.down();
    await sendOrder(sqs, queues.queueUrl, anOrder(2, { cpuShares: 80 }));
    await until('the write', async () => quota() === '80000');
    const stopped = a.stop();
    setTimeout(() => ddbProxy.up(), 300);
    await stopped;
    agent = null;
    expect((await applied())?.appliedVersion).toBe(2);
    expect(await queueEmpty(queues.queueUrl)).toBe(true);
  });
});
