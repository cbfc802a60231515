/** The usage publisher's points land in VictoriaMetrics through its OpenTSDB /api/put, under BDWatchdog's names. */
import { describe, expect, it } from '@jest/globals';
import { silentLogger } from '../../../adapters/logger.ts';
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
});
