import type { Resource } from '../contracts/units.ts';

/**
 * Idle or absent? The rule the metrics adapters apply where the source cannot
 * tell them apart. BDWatchdog sends nothing for a process that did nothing, so
 * a truly idle container's `proc.*` series are empty over a window — exactly
 * like a container whose agent, host or TSD is down. Idle must scale down
 * (DESIGN: "no data is null, idle is 0"); missing data must hold.
 *
 * The evidence is the host agent's own: it reads every running container's
 * cgroup CPU counter and puts the rate, in shares, as the series
 * `AGENT_CPU_METRIC` tagged `host=<container>` (host-agent/publisher.ts; with
 * SC_AGENT_PUBLISH_USAGE=false it puts only this series, beside BDWatchdog).
 * A point of it in the window proves three things at once: the TSD took
 * writes, the agent was alive, and the container was running — the agent puts
 * no point for a stopped container.
 *
 * So, per container and resource, when the source has no reading (null):
 * - the agent's series has points in the window and their mean is at most
 *   IDLE_CPU_SHARES ⇒ idle: cpu, disk and net read 0;
 * - memory stays null even then: an idle container still holds its memory and
 *   nothing here says how much (a 0 would fit memory to nothing);
 * - no agent points (TSD down, agent down, container stopped), or the agent saw
 *   real work that the source did not report (its series lag) ⇒ null: hold.
 * A reading the source has (0 included) is never replaced, and a reading the
 * adapter rejected as bad stays null.
 */
export const AGENT_CPU_METRIC = 'sc.agent.cpu';

/** At most this much CPU (shares: 1 = 1 % of a core) over the window is idle. */
export const IDLE_CPU_SHARES = 1;

/** Resources an idle container does not use at all (memory is held, not used up). */
const IDLE_IS_ZERO: ReadonlySet<Resource> = new Set(['cpu', 'disk_read', 'disk_write', 'net']);

/**
 * Apply the rule to one container's row. `agentCpu` is the mean of the agent's
 * series over the window, null when it has no point there; `bad` lists the
 * resources whose readings were rejected. Pure; returns a new row.
 */
export function withIdleEvidence(
  row: Readonly<Partial<Record<Resource, number | null>>>,
  agentCpu: number | null,
  bad: ReadonlySet<Resource> = new Set(),
): Partial<Record<Resource, number | null>> {
  const out = { ...row };
  if (agentCpu === null || !Number.isFinite(agentCpu) || agentCpu < 0 || agentCpu > IDLE_CPU_SHARES)
    return out;
  for (const res of Object.keys(row) as Resource[]) {
    if (row[res] !== null || bad.has(res) || !IDLE_IS_ZERO.has(res)) continue;
    out[res] = 0;
  }
  return out;
}
