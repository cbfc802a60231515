/**
 * `npx node scripts/loop-image.ts [out.png]` (root, LXC): runs the loop with two
 * demo containers through one round of a phased workload (idle → CPU burst →
 * memory growth → idle) and renders the dashboard to a PNG in headless
 * Chromium — the README's image (docs/img/loop-dashboard.png). About 5 minutes.
 */
import { screenshot } from '../bench/loop.ts';
import { favourCpu } from '../local/containers.ts';
import { startLoop } from '../local/loop.ts';
import { phasePlan, runPhases } from '../local/workload.ts';

const out = process.argv[2] ?? 'docs/img/loop-dashboard.png';
const ac = new AbortController();
process.once('SIGINT', () => ac.abort());
const loop = await startLoop({ config: 'default', signal: ac.signal, log: (l) => console.log(l) });
try {
  const demo = await loop.addDemoContainers(2);
  for (const c of demo) await favourCpu(c);
  const plan = phasePlan({
    idleSeconds: 20,
    cpuSeconds: 90,
    memSeconds: 60,
    memTotalMiB: 384,
    memStepMiBPerSecond: 8,
    idleAfterSeconds: 90,
  });
  await runPhases(demo, plan, { signal: ac.signal, onPhase: (n) => console.log(`phase ${n}`) });
  if (!ac.signal.aborted) {
    await screenshot(loop.dashboardUrl as string, out);
    console.log(`wrote ${out}`);
  }
} finally {
  ac.abort();
  await loop.stop();
}
