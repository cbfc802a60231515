/**
 * End to end through the API and a real host agent (emulators, a temporary v1 cgroup tree):
 * a container unsubscribed and subscribed again under the same name is applied again — its
 * new orders are not dropped as stale against the version the agent applied before — and the
 * state reads back consistent (host accounting, locator, applied version, application).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { systemClock } from '../../../adapters/clock.ts';
import { silentLogger } from '../../../adapters/logger.ts';
import { keys } from '../../../core/contracts/table-layout.ts';
import { HostAgent } from '../../../host-agent/agent.ts';
import { LiteTable } from '../../../host-agent/aws/dynamo.ts';
import { LiteSqs } from '../../../host-agent/aws/sqs.ts';
import { loadAgentConfig } from '../../../host-agent/config.ts';
import { DynamoAgentState } from '../../../host-agent/state.ts';
import { fakeShaper } from '../../support/agent-fakes.ts';
import { type CgroupTree, makeCgroupTree } from '../../support/cgroup-tree.ts';
import { dynamoEndpoint, sqsEndpoint } from '../../support/env.ts';
import { type ApiFixture, aHost, apiFixture } from '../functions/api/harness.ts';

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.each(['dynalite', 'dynamodb-local'] as const)(
  're-subscribing a name through the API and a host agent (%s)',
  (flavour) => {
    let f: ApiFixture;
    let tree: CgroupTree;
    let lxcPath: string;
    let agent: HostAgent;
    let agentSqs: LiteSqs;
    let agentTable: LiteTable;
    const host = 'h1';

    beforeAll(async () => {
      f = await apiFixture(flavour);
      expect((await f.call('PUT', `/hosts/${host}`, aHost({ cores: 2, memMiB: 4096 }))).status).toBe(201);
      tree = makeCgroupTree('v1');
      tree.addContainer('web');
      lxcPath = mkdtempSync(join(tmpdir(), 'sc-lxc-'));
      mkdirSync(join(lxcPath, 'web'));
      agentSqs = new LiteSqs({ endpoint: sqsEndpoint(), region: 'us-east-1', requestTimeoutMs: 5000 });
      agentTable = new LiteTable(f.tt.tableName, {
        endpoint: dynamoEndpoint(flavour),
        region: 'us-east-1',
        requestTimeoutMs: 2000,
      });
      const config = loadAgentConfig({
        SC_AGENT_HOST: host,
        SC_TABLE: f.tt.tableName,
        SC_QUEUE_PREFIX: f.queuePrefix,
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
      });
      agent = new HostAgent({
        config,
        sqs: agentSqs,
        store: new DynamoAgentState(agentTable, host),
        shaper: fakeShaper(),
        clock: systemClock,
        log: silentLogger,
        facts: { cpus: ['0', '1'], memMiB: 4096 },
      });
      await agent.start();
    }, 60_000);

    afterAll(async () => {
      await agent?.stop();
      agentSqs?.destroy();
      agentTable?.destroy();
      tree?.cleanup();
      rmSync(lxcPath, { recursive: true, force: true });
      await f?.close();
    });

    // The API's orders expire on its clock; the agent reads the system clock.
    const call = (method: string, path: string, body?: unknown) => {
      f.clock.t = Date.now();
      return f.call(method, path, body);
    };
    const quota = () => tree.read('web', 'cpu', 'cpu.cfs_quota_us').trim();
    const appliedVersion = async () =>
      (await f.tt.table.get(keys.applied(host, 'web')))?.appliedVersion as number | undefined;
    const spec = (cpu: number) => ({
      host,
      resources: { cpu: { max: 200, min: 10, current: cpu }, mem: { max: 1024, min: 64, current: 256 } },
    });

    it('applies the orders of the name subscribed again, and the state reads back consistent', async () => {
      const empty = (await call('GET', `/hosts/${host}`)).body.capacity;
      expect((await call('PUT', '/containers/web', spec(100))).status).toBe(201);
      await until('v1 applied', async () => quota() === '100000' && (await appliedVersion()) === 1);
      expect(
        (await call('POST', '/requests', { structure: 'web', resource: 'cpu', amount: 50 })).status,
      ).toBe(200);
      await until('v2 applied', async () => quota() === '150000' && (await appliedVersion()) === 2);
      expect((await call('PUT', '/apps/shop', { resources: { cpu: { max: 400 } } })).status).toBe(201);
      expect((await call('PUT', '/apps/shop/containers/web')).status).toBe(200);

      for (const [round, cpu] of [
        [1, 70],
        [2, 120],
      ] as const) {
        // Unsubscribing leaves the cgroup as it is; the name, its accounting and its guard go.
        expect((await call('DELETE', '/containers/web')).status).toBe(200);
        expect((await call('GET', '/containers/web')).status).toBe(404);
        expect((await call('GET', `/hosts/${host}`)).body.capacity).toEqual(empty);
        const shop = (await call('GET', '/apps/shop')).body;
        expect([shop.containers, shop.resources.cpu.current]).toEqual([[], 0]);
        const before = (await appliedVersion()) as number;

        const again = await call('PUT', '/containers/web', spec(cpu));
        expect(again.status).toBe(201);
        expect(again.body.container.desiredVersion).toBe(before + 1); // above what the agent applied
        await until(
          `round ${round} applied`,
          async () => quota() === `${cpu * 1000}` && (await appliedVersion()) === before + 1,
        );
        const read = (await call('GET', '/containers/web')).body;
        expect(read.container).toMatchObject({ host, application: null, desiredVersion: before + 1 });
        expect(read.applied).toMatchObject({ appliedVersion: before + 1, outcome: 'applied' });
        const taken = (await call('GET', `/hosts/${host}`)).body.capacity;
        expect(empty.cpu.free - taken.cpu.free).toBe(cpu);
        // It works as a fresh subscription: it can join the application again and scale.
        expect((await call('PUT', '/apps/shop/containers/web')).status).toBe(200);
        expect((await call('GET', '/apps/shop')).body.resources.cpu.current).toBe(cpu);
        expect(
          (await call('POST', '/requests', { structure: 'web', resource: 'cpu', amount: 10 })).status,
        ).toBe(200);
        await until(
          `round ${round} step applied`,
          async () => quota() === `${(cpu + 10) * 1000}` && (await appliedVersion()) === before + 2,
        );
      }
      expect(agent.consumer?.stats).toMatchObject({ receiveErrors: 0 });
    }, 90_000);
  },
);
