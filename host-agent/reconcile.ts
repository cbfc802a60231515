/**
 * Reconciliation: read this host's desired state and apply whatever differs
 * from what the kernel holds (covers lost messages, expired orders, reboots),
 * and report the real limits found. Never goes behind a newer applied version.
 *
 * The host item is read eventually consistent (half the read units). A read
 * that lags a recent commit is safe: a container's desired limits are named by
 * its `desiredVersion` (every writer bumps it), so a lagging copy either names
 * a version older than the one applied (skipped: 'behind'), the applied one
 * (the same limits), or a version between the applied and the newest, whose
 * order is ahead of the newer one in the host's FIFO queue anyway; the next
 * pass reads the newer version.
 */
import type { Logger } from '../adapters/logger.ts';
import type { HostState } from '../core/contracts/host.ts';
import { desiredLimits, type OrderService } from './orders.ts';
import type { AgentStateStore } from './state.ts';

export interface ReconcileDeps {
  host: string;
  store: AgentStateStore;
  orders: OrderService;
  log: Logger;
  /** Told the host state each pass reads (the memory fast path learns the room to grow). */
  onHost?: (host: HostState) => void;
}

export interface ReconcileSummary {
  checked: number;
  applied: string[];
  reported: string[];
  missing: string[];
}

/**
 * One pass. `reportAll` (at start) reports every container's real limits even
 * when nothing differs; later passes write only what changed.
 */
export async function reconcileOnce(
  deps: ReconcileDeps,
  opts: { reportAll: boolean; signal?: AbortSignal },
): Promise<ReconcileSummary> {
  const summary: ReconcileSummary = { checked: 0, applied: [], reported: [], missing: [] };
  const host = await deps.store.readHost({ consistent: false });
  if (host === null) {
    deps.log.warn({ host: deps.host }, 'no state for this host yet: nothing to reconcile');
    return summary;
  }
  deps.onHost?.(host);
  for (const [name, c] of Object.entries(host.containers)) {
    if (c.host !== deps.host) continue;
    summary.checked++;
    const what = await deps.orders.reconcileContainer(
      name,
      desiredLimits(c, host.cpuPlacement),
      c.desiredVersion,
      opts,
    );
    if (what === 'applied') summary.applied.push(name);
    else if (what === 'reported') summary.reported.push(name);
    else if (what === 'missing') summary.missing.push(name);
  }
  return summary;
}
