import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from '@jest/globals';
import { silentLogger } from '../../../adapters/logger.ts';
import { resolveContainerCgroup } from '../../../host-agent/cgroup/layout.ts';
import { BYTES_PER_MIB } from '../../../host-agent/cgroup/plan.ts';
import {
  sumBlkio,
  sumIoStat,
  toPoints,
  UsagePublisher,
  type UsageSample,
} from '../../../host-agent/publisher.ts';
import { makeCgroupTree } from '../../support/cgroup-tree.ts';

const zero: UsageSample = {
  atMs: 0,
  cpuUserNs: 0,
  cpuKernelNs: 0,
  residentBytes: 0,
  diskReadBytes: 0,
  diskWriteBytes: 0,
  netInBytes: 0,
  netOutBytes: 0,
};

describe('toPoints', () => {
  it('converts counter deltas to BDWatchdog units', () => {
    const later: UsageSample = {
      atMs: 5000,
      cpuUserNs: 7.5e9, // 7.5 s of CPU in 5 s = 1.5 cores = 150 shares
      cpuKernelNs: 0.5e9, // 0.1 core = 10 shares
      residentBytes: 300 * BYTES_PER_MIB,
      diskReadBytes: 50 * BYTES_PER_MIB, // 50 MiB / 5 s = 10 MiB/s
      diskWriteBytes: 5 * BYTES_PER_MIB, // 1 MiB/s
      netInBytes: 5 * 131_072, // 5 × 2^20 bits / 5 s = 1 Mbit/s
      netOutBytes: 0,
    };
    const pts = toPoints('c1', zero, later, { pid: 42 });
    const byName = Object.fromEntries(pts.map((p) => [p.metric, p.value]));
    expect(byName).toEqual({
      'proc.cpu.user': 150,
      'proc.cpu.kernel': 10,
      'proc.mem.resident': 300,
      'proc.disk.reads.mb': 10,
      'proc.disk.writes.mb': 1,
      'proc.net.tcp.in.mb': 1,
      'proc.net.tcp.out.mb': 0,
      'sc.agent.cpu': 160, // the agent's own evidence: user + kernel
    });
    expect(pts[0]?.tags).toEqual({ host: 'c1', pid: '42', command: 'container' });
    expect(pts[0]?.timestamp).toBe(5000); // the sample's instant, epoch ms
  });

  it('stamps each point with its sample instant in epoch ms, so sub-second samples stay apart', () => {
    const t0 = 1_795_848_279_978; // 13 digits: OpenTSDB reads it as milliseconds
    const at = (atMs: number, cpuUserNs: number): UsageSample => ({ ...zero, atMs, cpuUserNs });
    const a = toPoints('c1', at(t0, 0), at(t0 + 400, 0.2e9), { pid: null }); // 0.2 core-s in 0.4 s = 50 shares
    const b = toPoints('c1', at(t0 + 400, 0.2e9), at(t0 + 800, 0.6e9), { pid: null }); // 0.4 in 0.4 s = 100
    const cpu = (pts: typeof a) => pts.find((p) => p.metric === 'proc.cpu.user');
    expect(cpu(a)).toMatchObject({ timestamp: 1_795_848_280_378, value: 50 });
    expect(cpu(b)).toMatchObject({ timestamp: 1_795_848_280_778, value: 100 }); // same whole second, distinct stamp
    expect(String(cpu(b)?.timestamp)).toHaveLength(13);
  });

  it('leaves out what has no data and counters that went backwards (a restart)', () => {
    const later = {
      ...zero,
      atMs: 1000,
      cpuUserNs: null,
      netInBytes: null,
      netOutBytes: null,
      diskReadBytes: -1,
    };
    const names = toPoints('c1', zero, later, { pid: null }).map((p) => p.metric);
    expect(names).toEqual(['proc.cpu.kernel', 'proc.mem.resident', 'proc.disk.writes.mb']);
  });
});

describe('io counters', () => {
  it('sums v1 io_service_bytes per operation over devices', () => {
    expect(sumBlkio('254:0 Read 10\n254:0 Write 4\n8:0 Read 5\nTotal 19\n', 'Read')).toBe(15);
  });
  it('sums v2 io.stat keys over devices', () => {
    expect(sumIoStat('254:0 rbytes=10 wbytes=4 rios=1\n8:0 rbytes=5 wbytes=0\n', 'rbytes')).toBe(15);
  });
});

describe('UsagePublisher', () => {
  it('puts the points as gzip JSON to /api/put?details from the second sample on', async () => {
    const tree = makeCgroupTree('v2');
    tree.addContainer('c1');
    const cg = resolveContainerCgroup(tree.root, 'v2', 'c1');
    if (cg === null) throw new Error('fixture');
    let now = 0;
    const bodies: unknown[] = [];
    const pub = new UsagePublisher({
      url: 'http://127.0.0.1:9/',
      log: silentLogger,
      now: () => now,
      containers: () => [{ name: 'c1', cg, veth: null, pid: 7 }],
      fetch: (async (url: URL, init: RequestInit) => {
        bodies.push({ url: String(url), body: JSON.parse(gunzipSync(init.body as Buffer).toString()) });
        return new Response(null, { status: 204 });
      }) as typeof fetch,
    });
    expect(await pub.tick()).toBe(0);
    now = 2000;
    tree.write('c1', 'unified', 'cpu.stat', 'usage_usec 2000000\nuser_usec 1000000\nsystem_usec 1000000\n');
    expect(await pub.tick()).toBeGreaterThan(0);
    const sent = bodies[0] as { url: string; body: { metric: string; value: number }[] };
    expect(sent.url).toBe('http://127.0.0.1:9/api/put?details');
    // 1 s of user CPU in 2 s = 0.5 core = 50 shares
    expect(sent.body.find((p) => p.metric === 'proc.cpu.user')?.value).toBe(50);
    tree.cleanup();
  });

  it("puts only the agent's own CPU series when usage is off (BDWatchdog sends the usage)", async () => {
    const tree = makeCgroupTree('v2');
    tree.addContainer('c1');
    const cg = resolveContainerCgroup(tree.root, 'v2', 'c1');
    if (cg === null) throw new Error('fixture');
    let now = 0;
    const bodies: { metric: string; value: number }[][] = [];
    const pub = new UsagePublisher({
      url: 'http://127.0.0.1:9/',
      log: silentLogger,
      now: () => now,
      usage: false,
      containers: () => [{ name: 'c1', cg, veth: null, pid: 7 }],
      fetch: (async (_url: URL, init: RequestInit) => {
        bodies.push(JSON.parse(gunzipSync(init.body as Buffer).toString()));
        return new Response(null, { status: 204 });
      }) as typeof fetch,
    });
    tree.write('c1', 'unified', 'cpu.stat', 'usage_usec 0\nuser_usec 0\nsystem_usec 0\n');
    await pub.tick();
    now = 5000;
    expect(await pub.tick()).toBe(1);
    expect(bodies[0]).toEqual([expect.objectContaining({ metric: 'sc.agent.cpu', value: 0 })]); // idle: 0, not absent
    tree.cleanup();
  });
});
