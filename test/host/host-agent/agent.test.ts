/**
 * The host agent on this machine, as root: real cgroups (v1), real LXC busybox
 * containers, orders through a real queue (fauxqs) and reports in a real table
 * (dynalite), both started here. Every container, veth and address made here
 * is removed in afterAll, also when a test fails.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { systemClock } from '../../../adapters/clock.ts';
import { silentLogger } from '../../../adapters/logger.ts';
import { HostAgent, readHostFacts } from '../../../host-agent/agent.ts';
import { LiteTable } from '../../../host-agent/aws/dynamo.ts';
import { LiteSqs } from '../../../host-agent/aws/sqs.ts';
import { loadAgentConfig } from '../../../host-agent/config.ts';
import { tcShaper } from '../../../host-agent/net/tc.ts';
import { DynamoAgentState, parseHostItem } from '../../../host-agent/state.ts';
import { aHostState } from '../../support/agent-fakes.ts';
import { type Harness, startHarness } from '../support/agent-harness.ts';
import {
  createContainer,
  hostIdleShare,
  isRoot,
  sweepLeftovers,
  TEST_PREFIX,
  type TestContainer,
  userSpaceAlloc,
} from '../support/lxc.ts';

const CG = '/sys/fs/cgroup';
const MiB = 1_048_576;
const HOST = `${TEST_PREFIX}-host`;

let h: Harness;
let agent: HostAgent;
let ct: TestContainer; // orders
let fast: TestContainer; // memory fast path
let version = 10;
const cleanups: (() => Promise<void> | void)[] = [];
let agentClients: { destroy(): void }[] = [];

const cgFile = (controller: string, name: string, file: string) =>
  `${CG}/${controller}/lxc.payload.${name}/${file}`;
const readCg = (controller: string, name: string, file: string) =>
  readFileSync(cgFile(controller, name, file), 'utf8').trim();

beforeAll(async () => {
  if (!isRoot()) throw new Error('the host suite needs root (real cgroups and LXC)');
  await sweepLeftovers();
  h = await startHarness(HOST, { maxReceiveCount: 3, visibilityTimeoutS: 5 });
  cleanups.push(() => h.close());
  [ct, fast] = await Promise.all([createContainer('ord'), createContainer('oom')]);
  cleanups.push(
    () => ct.destroy(),
    () => fast.destroy(),
  );
  await h.putHost(
    aHostState(
      HOST,
      {
        [ct.name]: { cpu: 100, mem: 256, memMax: 256 }, // at its max: the fast path has no room here
        [fast.name]: { cpu: 100, mem: 32, memMax: 256 },
      },
      1024,
    ),
  );
  const table = new LiteTable(h.tableName, {
    endpoint: h.dynamoEndpoint,
    region: 'us-east-1',
    requestTimeoutMs: 3000,
  });
  const sqs = new LiteSqs({ endpoint: h.sqsEndpoint, region: 'us-east-1', requestTimeoutMs: 10_000 });
  agentClients = [table, sqs];
  agent = new HostAgent({
    config: loadAgentConfig({
      SC_AGENT_HOST: HOST,
      SC_TABLE: h.tableName,
      SC_AGENT_WAIT_TIME_S: '2',
      SC_AGENT_VISIBILITY_TIMEOUT_S: '5',
      SC_AGENT_VISIBILITY_HEARTBEAT_S: '2',
      SC_AGENT_RECONCILE_S: '3600',
      SC_AGENT_MEM_WATCH_MS: '50',
    }),
    sqs,
    store: new DynamoAgentState(table, HOST),
    shaper: tcShaper(),
    clock: systemClock,
    log: silentLogger,
  });
  await agent.start();
  cleanups.push(async () => {
    await agent.stop();
    for (const c of agentClients) c.destroy();
  });
  // start-up reconciliation reports both containers at their desired version
  await Promise.all([h.waitApplied(ct.name, 1), h.waitApplied(fast.name, 1)]);
}, 60_000);

afterAll(async () => {
  for (const c of cleanups.reverse()) {
    try {
      await c();
    } catch (err) {
      process.stderr.write(`cleanup: ${(err as Error).message}\n`);
    }
  }
}, 60_000);

async function order(
  limits: Parameters<Harness['send']>[2],
  container = ct.name,
): Promise<Record<string, unknown>> {
  version++;
  await h.send(container, version, limits);
  return h.waitApplied(container, version);
}

/** CPU used by the container over `ms`, in shares (100 = one core), from cpuacct.usage. */
async function measureShares(name: string, ms: number): Promise<{ shares: number; othersCores: number }> {
  const u0 = Number(readCg('cpuacct', name, 'cpuacct.usage'));
  const t0 = process.hrtime.bigint();
  const idle = await hostIdleShare(ms);
  const u1 = Number(readCg('cpuacct', name, 'cpuacct.usage'));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cores = (u1 - u0) / 1e9 / seconds;
  const busyCores = (1 - idle) * readHostFacts().cpus.length;
  return { shares: cores * 100, othersCores: Math.max(0, busyCores - cores) };
}

/**
 * Usage within ±5 % of the quota. A reading taken while other work on this
 * shared machine left less than the quota free does not count: wait and
 * measure again (the bar stays ±5 %).
 */
async function expectHeldTo(name: string, shares: number): Promise<void> {
  const cpus = readHostFacts().cpus.length;
  const readings: string[] = [];
  for (let attempt = 0; attempt < 12; attempt++) {
    const m = await measureShares(name, 1500);
    readings.push(`${m.shares.toFixed(1)} (others ${m.othersCores.toFixed(2)} cores)`);
    if (Math.abs(m.shares - shares) <= 0.05 * shares) return;
    const freeForUs = cpus - m.othersCores;
    if (freeForUs * 100 >= shares * 1.1) break; // the host had room: a real miss
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`usage never within ±5 % of ${shares} shares: ${readings.join(', ')}`);
}

describe('CPU through the real queue', () => {
  beforeAll(() => {
    // The quota is a ceiling; a high weight keeps the other helpers on this shared machine
    // from starving the burner below it, so the reading measures the quota, not the contention.
    writeFileSync(cgFile('cpu', ct.name, 'cpu.shares'), '262144');
    ct.spawn('while :; do :; done');
    ct.spawn('while :; do :; done');
  });
  afterAll(async () => {
    await ct.exec('killall sh 2>/dev/null; true').catch(() => undefined);
  });

  it.each([50, 100, 150])(
    'holds a two-process burner to %i shares',
    async (shares) => {
      const report = await order({ cpuShares: shares, cpuset: '0-1' });
      expect(report).toMatchObject({ outcome: 'applied' });
      expect(readCg('cpu', ct.name, 'cpu.cfs_quota_us')).toBe(String(shares * 1000)); // shares × 100000 / 100
      await expectHeldTo(ct.name, shares);
    },
    40_000,
  );

  it('pins the container to one cpu', async () => {
    await order({ cpuShares: 200, cpuset: '1' });
    expect(readCg('cpuset', ct.name, 'cpuset.cpus')).toBe('1');
    const per0 = readCg('cpuacct', ct.name, 'cpuacct.usage_percpu').split(' ').map(Number);
    await new Promise((r) => setTimeout(r, 1000));
    const per1 = readCg('cpuacct', ct.name, 'cpuacct.usage_percpu').split(' ').map(Number);
    const onCpu0 = ((per1[0] ?? 0) - (per0[0] ?? 0)) / 1e9;
    const onCpu1 = ((per1[1] ?? 0) - (per0[1] ?? 0)) / 1e9;
    expect(onCpu0).toBeLessThan(0.02);
    expect(onCpu1).toBeGreaterThan(0.2);
    await order({ cpuShares: 100, cpuset: '0-1' });
  }, 20_000);

  it('lets the newest order win over duplicates and late older ones', async () => {
    const v = version + 2;
    await h.send(ct.name, v, { cpuShares: 120 });
    await h.send(ct.name, v - 1, { cpuShares: 60 });
    await h.send(ct.name, v, { cpuShares: 120 });
    version = v;
    await h.waitApplied(ct.name, v);
    await new Promise((r) => setTimeout(r, 300));
    expect(readCg('cpu', ct.name, 'cpu.cfs_quota_us')).toBe('120000');
    expect((await h.applied(ct.name))?.appliedVersion).toBe(v);
  });

  it('refuses absurd values, writing nothing', async () => {
    const before = readCg('cpu', ct.name, 'cpu.cfs_quota_us');
    const report = await order({ cpuShares: 100_000, memMiB: 64 });
    expect(report).toMatchObject({ outcome: 'refused' });
    expect(JSON.stringify(report.issues)).toContain('cpuShares');
    expect(readCg('cpu', ct.name, 'cpu.cfs_quota_us')).toBe(before);
    expect(Number(readCg('memory', ct.name, 'memory.limit_in_bytes'))).toBe(256 * MiB);
  });
});

describe('memory', () => {
  it('OOM-kills a process that allocates beyond the limit', async () => {
    await order({ memMiB: 32 });
    expect(Number(readCg('memory', ct.name, 'memory.limit_in_bytes'))).toBe(32 * MiB);
    const kills0 = Number(/oom_kill (\d+)/.exec(readCg('memory', ct.name, 'memory.oom_control'))?.[1]);
    const r = await ct.exec('dd if=/dev/zero of=/dev/null bs=64M count=1');
    expect(r.code).toBe(137);
    const kills1 = Number(/oom_kill (\d+)/.exec(readCg('memory', ct.name, 'memory.oom_control'))?.[1]);
    expect(kills1).toBe(kills0 + 1);
    // the fast path had no room (desired memory is at its max): the limit stays
    expect(Number(readCg('memory', ct.name, 'memory.limit_in_bytes'))).toBe(32 * MiB);
  }, 20_000);

  it('refuses a scale-down below the anonymous memory in use and keeps the old limit', async () => {
    await order({ memMiB: 128 });
    // a shell holding a 24 MB string (building it peaks well under the 128 MiB limit)
    // (the last command would be exec'd in place of the shell, dropping the string: keep one after sleep)
    const holder = ct.spawn(
      'x=$(head -c 24000000 /dev/zero | tr "\\000" a); touch /tmp/held; sleep 1000; echo "$x" | head -c 1',
    );
    const rss = () => Number(/total_rss (\d+)/.exec(readCg('memory', ct.name, 'memory.stat'))?.[1]);
    try {
      await waitFor(() => ct.exists('/tmp/held'), 10_000);
      expect(rss()).toBeGreaterThan(22 * MiB);
      const report = await order({ memMiB: 8 });
      expect(report).toMatchObject({ outcome: 'refused' });
      expect((report.issues as { code: string }[])[0]?.code).toBe('BELOW_USAGE');
      expect(Number(readCg('memory', ct.name, 'memory.limit_in_bytes'))).toBe(128 * MiB);
      expect((report.limits as { memMiB: number }).memMiB).toBe(128);
    } finally {
      holder.kill('SIGKILL');
      await ct.exec('killall sleep 2>/dev/null; rm -f /tmp/held; true');
      await waitFor(() => rss() < 8 * MiB, 5000);
    }
  }, 30_000);

  it('reports the kernel’s EBUSY (memory it cannot reclaim, such as tmpfs) and keeps the old limit', async () => {
    await order({ memMiB: 128 });
    const w = await ct.exec('dd if=/dev/zero of=/dev/shm/fill bs=1M count=48');
    expect(w.code).toBe(0);
    try {
      const report = await order({ memMiB: 16 });
      expect((report.issues as { code: string }[])[0]?.code).toBe('EBUSY');
      expect(Number(readCg('memory', ct.name, 'memory.limit_in_bytes'))).toBe(128 * MiB);
    } finally {
      await ct.exec('rm -f /dev/shm/fill');
    }
  }, 30_000);
});

describe('memory fast path', () => {
  it('raises memory within a second when a task stalls under OOM, accounted on the host item', async () => {
    expect(Number(readCg('memory', fast.name, 'memory.limit_in_bytes'))).toBe(32 * MiB);
    writeFileSync(cgFile('memory', fast.name, 'memory.oom_control'), '1'); // stall instead of kill
    const t0 = Date.now();
    const r = fast.exec(userSpaceAlloc(40_000_000)); // peak ≈ 50 MiB
    await waitFor(() => Number(readCg('memory', fast.name, 'memory.limit_in_bytes')) > 32 * MiB, 5000);
    const reactionMs = Date.now() - t0;
    expect(reactionMs).toBeLessThan(1000);
    expect((await r).code).toBe(0); // the stalled allocation completed
    expect(Number(readCg('memory', fast.name, 'memory.limit_in_bytes'))).toBe(96 * MiB); // 32 + max(64, 25 % of 32)
    const state = parseHostItem(await h.table.get({ pk: `HOST#${HOST}`, sk: 'STATE' }));
    const c = state?.containers[fast.name];
    expect(c?.resources.mem?.current).toBe(96);
    expect(state?.capacity.mem.free).toBe(1024 - 64);
    const report = await h.waitApplied(fast.name, c?.desiredVersion ?? 2);
    expect(report).toMatchObject({ via: 'oom-fastpath', outcome: 'applied' });
  }, 20_000);
});

describe('disk', () => {
  it('throttles direct writes on the device backing the container', async () => {
    const report = await order({ diskWriteMiBps: 20 });
    expect(report).toMatchObject({ outcome: 'applied' });
    expect((report.limits as { diskWriteMiBps: number }).diskWriteMiBps).toBe(20);
    const t0 = Date.now();
    const r = await ct.exec('dd if=/dev/zero of=/tmp/blk bs=1M count=30 oflag=direct; rm -f /tmp/blk');
    const seconds = (Date.now() - t0) / 1000;
    expect(r.code).toBe(0);
    const mibps = 30 / seconds; // 30 MiB at 20 MiB/s ≈ 1.5 s
    expect(mibps).toBeLessThanOrEqual(20 * 1.05);
    expect(mibps).toBeGreaterThan(20 * 0.8); // includes process start-up
  }, 30_000);
});

describe('network', () => {
  const ADDR_HOST = '10.251.77.1';
  const ADDR_CT = '10.251.77.2';
  beforeAll(async () => {
    await execHost('ip', ['addr', 'add', `${ADDR_HOST}/30`, 'dev', ct.veth]);
    const r = await ct.exec(`ip addr add ${ADDR_CT}/30 dev eth0 && ip link set eth0 up`);
    if (r.code !== 0) throw new Error(`container address: ${r.stderr}`);
  });

  it('shapes traffic into the container with tc on the host-side veth', async () => {
    const report = await order({ netMbps: 20 });
    expect((report.limits as { netMbps: number }).netMbps).toBe(20);
    ct.spawn('sleep 1000 | nc -l -p 5001 > /dev/null'); // stdin held open, or nc stops reading
    await new Promise((r) => setTimeout(r, 300));
    const sock = connect({ host: ADDR_CT, port: 5001 });
    await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
    const chunk = Buffer.alloc(64 * 1024);
    let sending = true;
    const pump = () => {
      while (sending && sock.write(chunk)) {
        /* fill the socket */
      }
    };
    sock.on('drain', pump);
    pump();
    try {
      await new Promise((r) => setTimeout(r, 700)); // fill the bucket and the queues first
      const tx = () => Number(readFileSync(`/sys/class/net/${ct.veth}/statistics/tx_bytes`, 'utf8'));
      const b0 = tx();
      const t0 = process.hrtime.bigint();
      await new Promise((r) => setTimeout(r, 2000));
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const mbps = ((tx() - b0) * 8) / 1_048_576 / seconds; // Mbit as BDWatchdog counts it
      expect(Math.abs(mbps - 20)).toBeLessThanOrEqual(20 * 0.05);
    } finally {
      sending = false;
      sock.destroy();
    }
  }, 30_000);
});

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function execHost(cmd: string, args: string[]): Promise<void> {
  const { execFile } = await import('node:child_process');
  await new Promise<void>((resolve, reject) =>
    execFile(cmd, args, (err) => (err === null ? resolve() : reject(err))),
  );
}
