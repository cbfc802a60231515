/**
 * The resend sweep: orders whose desired version has been ahead of what the
 * agent applied for longer than RESEND_AFTER are sent again, rebuilt from the
 * desired state (so the newest desired limits go, whatever the lost message
 * said). Called by the sanity sweep.
 */
import type { Logger } from '../../adapters/logger.ts';
import { silentLogger } from '../../adapters/logger.ts';
import { orderId, type ScaleOrder } from '../../core/contracts/order.ts';
import { mapLimit } from '../../core/map-limit.ts';
import { buildOrder } from '../../core/policy/planner/orders.ts';
import type { LaggingState, OrderSender } from './ports.ts';

export interface ResendDeps {
  state: LaggingState;
  orders: OrderSender;
  config: () => { RESEND_AFTER: number; ORDER_TTL: number };
  log?: Logger;
  concurrency?: number;
}

export interface ResendResult {
  hosts: number;
  /** Containers whose desired version was ahead of the applied one. */
  lagging: number;
  resent: number;
  failed: number;
  /** Lagging, but on a host without a known queue. */
  noQueue: number;
}

export async function resendLagging(deps: ResendDeps, now: number): Promise<ResendResult> {
  const { RESEND_AFTER, ORDER_TTL } = deps.config();
  const log = deps.log ?? silentLogger;
  const result: ResendResult = { hosts: 0, lagging: 0, resent: 0, failed: 0, noQueue: 0 };
  const names = await deps.state.listHosts();
  await mapLimit(names, deps.concurrency ?? 8, async (name) => {
    const loaded = await deps.state.getHostWithApplied(name);
    if (loaded === null) return;
    result.hosts += 1;
    const { host, applied } = loaded;
    const due: ScaleOrder[] = [];
    for (const c of Object.values(host.containers)) {
      const appliedVersion = applied.get(c.name) ?? 0;
      if (c.desiredVersion <= appliedVersion || now - c.desiredAt <= RESEND_AFTER * 1000) continue;
      result.lagging += 1;
      // A new dedup id, or FIFO de-duplication would swallow the re-send within 5 minutes.
      const id = `${orderId(c.name, c.desiredVersion)}.r${now}`;
      due.push(
        buildOrder(
          host,
          c,
          now,
          ORDER_TTL,
          [
            {
              source: 'sanity',
              text: `re-sent: applied v${appliedVersion} < desired v${c.desiredVersion}`,
              values: {},
            },
          ],
          id,
        ),
      );
    }
    if (due.length === 0) return;
    if (host.queueUrl === null) {
      result.noQueue += due.length;
      return;
    }
    const out = await deps.orders.send(host.queueUrl, due).catch((err: unknown) => {
      log.warn({ err, host: host.name }, 'resend failed');
      return { sent: 0, failed: due.length };
    });
    result.resent += out.sent;
    result.failed += out.failed;
  });
  return result;
}
