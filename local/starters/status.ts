/** The loop's status lines: each guarded container's usage, desired and applied limits. */
import { type ContainerView, dashboardView } from '../../dashboard/read-model.ts';
import { readDemoLimits } from '../containers.ts';

type ReadModelDeps = Parameters<typeof dashboardView>[0];

export interface StatusRow {
  container: string;
  cpu: { usage: number | null; current: number | null; applied: number | null; max: number | null };
  mem: { usage: number | null; current: number | null; applied: number | null; max: number | null };
  lastDecision: string | null;
}

export async function loopStatus(
  read: ReadModelDeps,
  paths: ReadonlyMap<string, string>,
  cpuPeriodUs: number,
): Promise<StatusRow[]> {
  const now = Date.now();
  const view = await dashboardView(read, { fromMs: now - 30_000, toMs: now, stepS: 1 });
  const rows: StatusRow[] = [];
  const containers: ContainerView[] = view.hosts.flatMap((h) => h.containers);
  for (const c of containers) {
    const path = paths.get(c.name);
    const held = path === undefined ? null : await readDemoLimits(path);
    const quota = held?.quotaUs ?? null;
    const memLimit = held?.memBytes ?? null;
    rows.push({
      container: c.name,
      cpu: {
        usage: c.plots.cpu.now.usage,
        current: c.plots.cpu.now.current,
        applied: quota === null || quota < 0 ? null : (quota / cpuPeriodUs) * 100,
        max: c.plots.cpu.now.max,
      },
      mem: {
        usage: c.plots.mem.now.usage,
        current: c.plots.mem.now.current,
        applied: memLimit === null ? null : memLimit / 2 ** 20,
        max: c.plots.mem.now.max,
      },
      lastDecision: c.lastDecision,
    });
  }
  return rows;
}
