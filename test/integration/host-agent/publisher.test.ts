/** The usage publisher's points land in VictoriaMetrics through its OpenTSDB /api/put, under BDWatchdog's names. */
import { describe, expect, it } from '@jest/globals';
import { silentLogger } from '../../../adapters/logger.ts';
import { PrometheusMetricsSource } from '../../../adapters/metrics/prometheus.ts';
import { resolveContainerCgroup } from '../../../host-agent/cgroup/layout.ts';
import { UsagePublisher } from '../../../host-agent/publisher.ts';
import { makeCgroupTree } from '../../support/cgroup-tree.ts';
import { uniqueName, victoriaOpentsdbUrl, victoriaPromUrl } from '../../support/env.ts';

describe('usage publisher → VictoriaMetrics', () => {
  it('puts CPU in shares and memory in MiB tagged host=<container>', async () => {
    const tree = makeCgroupTree('v1');
    const name = uniqueName('pubc');
    tree.addContainer(name);
    const cg = resolveContainerCgroup(tree.root, 'v1', name);
    if (cg === null) throw new Error('fixture');
    const nowS = Math.floor(Date.now() / 1000);
    let now = nowS * 1000 - 5000;
    const pub = new UsagePublisher({
      url: victoriaOpentsdbUrl(),
      log: silentLogger,
      now: () => now,
      containers: () => [{ name, cg, veth: null, pid: 4242 }],
    });
    try {
      await pub.tick();
      now += 5000;
      tree.write(name, 'cpuacct', 'cpuacct.usage_user', `${7.5e9}\n`); // 7.5 s in 5 s = 150 shares
      tree.write(name, 'memory', 'memory.stat', `rss 0\ntotal_rss ${300 * 1_048_576}\n`);
      expect(await pub.tick()).toBeGreaterThan(0);
      await fetch(`${victoriaPromUrl()}/internal/force_flush`).then((r) => r.body?.cancel());
      const query = async (metric: string) => {
        const url = `${victoriaPromUrl()}/api/v1/query?query=${encodeURIComponent(`${metric}{host="${name}"}`)}&time=${nowS}`;
        const body = (await (await fetch(url)).json()) as {
          data: { result: { metric: Record<string, string>; value: [number, string] }[] };
        };
        return body.data.result[0];
      };
      let cpu = await query('proc.cpu.user');
      for (let i = 0; i < 40 && cpu === undefined; i++) {
        await new Promise((r) => setTimeout(r, 250));
        cpu = await query('proc.cpu.user');
      }
      expect(cpu?.value[1]).toBe('150');
      expect(cpu?.metric).toMatchObject({ host: name, pid: '4242', command: 'container' });
      expect((await query('proc.mem.resident'))?.value[1]).toBe('300');
    } finally {
      tree.cleanup();
    }
  });

  it('stores sub-second samples at their own millisecond instants, read back by the Prometheus adapter', async () => {
    const tree = makeCgroupTree('v1');
    const name = uniqueName('pubms');
    tree.addContainer(name);
    const cg = resolveContainerCgroup(tree.root, 'v1', name);
    if (cg === null) throw new Error('fixture');
    const nowS = Math.floor(Date.now() / 1000);
    const t0 = (nowS - 4) * 1000 + 100; // three samples 400 ms apart, all inside one window
    let now = t0;
    const pub = new UsagePublisher({
      url: victoriaOpentsdbUrl(),
      log: silentLogger,
      now: () => now,
      containers: () => [{ name, cg, veth: null, pid: 7 }],
    });
    try {
      await pub.tick();
      now = t0 + 400;
      tree.write(name, 'cpuacct', 'cpuacct.usage_user', `${0.2e9}\n`); // 0.2 core-s in 0.4 s = 50 shares
      await pub.tick();
      now = t0 + 800;
      tree.write(name, 'cpuacct', 'cpuacct.usage_user', `${0.6e9}\n`); // 0.4 core-s in 0.4 s = 100 shares
      await pub.tick();
      await fetch(`${victoriaPromUrl()}/internal/force_flush`).then((r) => r.body?.cancel());
      const raw = async () => {
        const q = encodeURIComponent(`proc.cpu.user{host="${name}"}[4s]`);
        const body = (await (
          await fetch(`${victoriaPromUrl()}/api/v1/query?query=${q}&time=${nowS}`)
        ).json()) as {
          data: { result: { values: [number, string][] }[] };
        };
        return body.data.result[0]?.values ?? [];
      };
      let points = await raw();
      for (let i = 0; i < 40 && points.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 250));
        points = await raw();
      }
      // both points of the same second kept, at the sample instants (VictoriaMetrics answers seconds with ms)
      expect(points.map(([t, v]) => [Math.round(t * 1000), v])).toEqual([
        [t0 + 400, '50'],
        [t0 + 800, '100'],
      ]);
      const source = new PrometheusMetricsSource({ url: victoriaPromUrl() });
      const u = await source.usage({
        kind: 'container',
        structures: [name],
        resources: ['cpu'],
        // ending ≥ 1 s ago, as the Guardian's windows do (VictoriaMetrics' range queries answer nothing at an end under ≈ 1 s old)
        window: { startS: nowS - 4, endS: nowS - 1 },
      });
      expect({ cpu: u.usage.get(name)?.cpu, rejected: u.rejected }).toEqual({ cpu: 75, rejected: [] }); // user (50 + 100) / 2 + kernel 0
    } finally {
      tree.cleanup();
    }
  });
});
