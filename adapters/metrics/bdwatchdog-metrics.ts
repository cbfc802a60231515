/**
 * BDWatchdog's metric names and the original framework's reduction, shared by
 * the OpenTSDB and Prometheus adapters: usage of a resource = sum over its
 * sub-metrics of the mean of that sub-metric's points in the window.
 */

import type { Resource } from '../../core/contracts/units.ts';
import { AGENT_CPU_METRIC, withIdleEvidence } from '../../core/policy/idle-evidence.ts';
import type { RejectionKind, UsageRejection } from '../../core/ports/metrics-source.ts';

export const CONTAINER_METRICS: Readonly<Record<Resource, readonly string[]>> = {
  cpu: ['proc.cpu.user', 'proc.cpu.kernel'],
  mem: ['proc.mem.resident'],
  disk_read: ['proc.disk.reads.mb'],
  disk_write: ['proc.disk.writes.mb'],
  net: ['proc.net.tcp.in.mb', 'proc.net.tcp.out.mb'],
};

/** Tag naming the structure: BDWatchdog tags processes host=<container>; SC's own series structure=<name>. */
export function tagKey(kind: 'container' | 'application'): string {
  return kind === 'container' ? 'host' : 'structure';
}

export function metricsFor(kind: 'container' | 'application', res: Resource): readonly string[] {
  return kind === 'container' ? CONTAINER_METRICS[res] : [`structure.${res}.usage`];
}

/**
 * Every metric one usage query asks for: the resources' metrics and, for
 * containers when `idleEvidence` is on, the agent's CPU series
 * (core/policy/idle-evidence.ts) that tells an idle container from a missing one.
 */
export function queryMetrics(
  kind: 'container' | 'application',
  resources: readonly Resource[],
  idleEvidence: boolean,
): string[] {
  const metrics = new Set(resources.flatMap((r) => metricsFor(kind, r)));
  if (idleEvidence && kind === 'container') metrics.add(AGENT_CPU_METRIC);
  return [...metrics];
}

/** Collects per-(structure, metric) means and reduces them to per-resource usage. */
export class UsageReducer {
  private readonly means = new Map<string, Map<string, number>>();
  readonly rejected: UsageRejection[] = [];
  private readonly badStructures = new Set<string>();

  /** Record a series' points; bad values (non-numeric, NaN, negative) reject the structure's series. */
  addSeries(structure: string, metric: string, values: readonly unknown[]): void {
    if (values.length === 0) return;
    let sum = 0;
    for (const raw of values) {
      const v = typeof raw === 'string' ? Number(raw) : raw;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
        this.rejected.push({ structure, metric, why: `bad value ${JSON.stringify(raw)}`, kind: 'bad-data' });
        this.badStructures.add(`${structure}\u0000${metric}`);
        return;
      }
      sum += v;
    }
    let m = this.means.get(structure);
    if (m === undefined) {
      m = new Map();
      this.means.set(structure, m);
    }
    // Two series for one (structure, metric) would be a grouping error; add their means like sub-metrics.
    m.set(metric, (m.get(metric) ?? 0) + sum / values.length);
  }

  reject(structure: string | null, metric: string, why: string, kind?: RejectionKind): void {
    this.rejected.push(kind === undefined ? { structure, metric, why } : { structure, metric, why, kind });
  }

  /**
   * Usage per resource: sum of the available sub-metric means; null when none has data or one is bad.
   * With `idleEvidence`, a container's null readings are settled by the agent's CPU series
   * (withIdleEvidence: idle reads 0, missing stays null).
   */
  result(
    structures: readonly string[],
    kind: 'container' | 'application',
    resources: readonly Resource[],
    idleEvidence = false,
  ): Map<string, Partial<Record<Resource, number | null>>> {
    const out = new Map<string, Partial<Record<Resource, number | null>>>();
    for (const s of structures) {
      const m = this.means.get(s);
      const row: Partial<Record<Resource, number | null>> = {};
      const badRes = new Set<Resource>();
      for (const res of resources) {
        let value: number | null = null;
        let bad = false;
        for (const metric of metricsFor(kind, res)) {
          if (this.badStructures.has(`${s}\u0000${metric}`)) bad = true;
          const v = m?.get(metric);
          if (v !== undefined) value = (value ?? 0) + v;
        }
        row[res] = bad ? null : value;
        if (bad) badRes.add(res);
      }
      const evidence =
        idleEvidence && kind === 'container' && !this.badStructures.has(`${s}\u0000${AGENT_CPU_METRIC}`);
      out.set(s, evidence ? withIdleEvidence(row, m?.get(AGENT_CPU_METRIC) ?? null, badRes) : row);
    }
    return out;
  }
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Escape a name for a Prometheus regex (names are [A-Za-z0-9_.-]). */
export function regexEscape(name: string): string {
  return name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
