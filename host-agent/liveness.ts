/**
 * When the agent must write a heartbeat. The sanity sweep takes an agent's last
 * sign of life as the newest of its heartbeat (`AGENT.at`) and its reports
 * (`APPLIED#<container>.appliedAt`, core/policy/sanity-findings.ts lastSignOfLife), so a
 * report that landed within the heartbeat period already proves the agent alive:
 * the heartbeat is due one period after the last landed write of either kind.
 * An idle agent writes a heartbeat every period, as before; a busy one rarely.
 */
import type { AgentStateStore } from './state.ts';

export class Liveness {
  private lastAt: number | null = null;

  /** Epoch ms of the newest landed write the sweep counts (null: none yet). */
  get last(): number | null {
    return this.lastAt;
  }

  /** A write the sweep counts as a sign of life landed, stamped `at`. */
  proved(at: number): void {
    if (this.lastAt === null || at > this.lastAt) this.lastAt = at;
  }

  /** When the next heartbeat is due: a period after the last sign of life, or `now` when there is none. */
  dueAt(periodMs: number, now: number): number {
    return this.lastAt === null ? now : this.lastAt + periodMs;
  }
}

/**
 * `store`, with every report and heartbeat that landed recorded in `liveness`
 * (by the time it carries: `appliedAt`, `at`, which is what the sweep reads).
 * A report refused because a newer one is stored proves nothing here.
 */
export function provingStore(store: AgentStateStore, liveness: Liveness): AgentStateStore {
  return {
    readHost: (opts) => store.readHost(opts),
    readApplied: () => store.readApplied(),
    async putReport(report) {
      const landed = await store.putReport(report);
      if (landed) liveness.proved(report.appliedAt);
      return landed;
    },
    async putHeartbeat(hb) {
      await store.putHeartbeat(hb);
      liveness.proved(hb.at);
    },
    commitHost: (next, expectedVersion) => store.commitHost(next, expectedVersion),
  };
}
