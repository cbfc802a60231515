/**
 * The sanity sweep's re-send step over the Scaler's resend sweep
 * (functions/scaler/resend.ts): orders rebuilt from the desired state by the
 * planner's own order builder, a fresh dedup id per re-send. The sweep has
 * already read the fleet, so resendLagging reads the hosts from that read
 * (only the live hosts with lagging containers), and each container's outcome
 * is taken from the order sender for the sweep's findings.
 */
import type { HostView } from '../../adapters/dynamodb/fleet.ts';
import type { Logger } from '../../adapters/logger.ts';
import type { Lagging } from '../../core/policy/sanity-findings.ts';
import type { LaggingState, OrderSender } from '../scaler/ports.ts';
import { resendLagging } from '../scaler/resend.ts';

export interface ResendOutcome {
  container: string;
  host: string;
  sent: boolean;
  error?: string;
}

export type ResendStep = (
  lagging: readonly Lagging[],
  hosts: readonly HostView[],
  now: number,
  config: { RESEND_AFTER: number; ORDER_TTL: number },
) => Promise<ResendOutcome[]>;

/** The hosts of the fleet read, as resendLagging reads them. */
export function fleetLaggingState(hosts: readonly HostView[]): LaggingState {
  const byName = new Map(hosts.map((h) => [h.state.name, h]));
  return {
    listHosts: async () => [...byName.keys()],
    getHostWithApplied: async (name) => {
      const h = byName.get(name);
      if (h === undefined) return null;
      return { host: h.state, applied: new Map([...h.applied].map(([c, r]) => [c, r.appliedVersion])) };
    },
  };
}

export function resendWith(orders: OrderSender, log?: Logger): ResendStep {
  return async (lagging, hosts, now, config) => {
    const involved = new Set(lagging.map((l) => l.host));
    const outcomes = new Map<string, ResendOutcome>();
    // Re-sends are rare: send one order per call so each container's outcome is known.
    const recording: OrderSender = {
      send: async (queueUrl, batch) => {
        let sent = 0;
        let failed = 0;
        for (const order of batch) {
          try {
            const r = await orders.send(queueUrl, [order]);
            if (r.failed > 0) throw new Error('the queue refused the order');
            sent += 1;
            outcomes.set(order.container, { container: order.container, host: order.host, sent: true });
          } catch (err) {
            failed += 1;
            outcomes.set(order.container, {
              container: order.container,
              host: order.host,
              sent: false,
              error: (err as Error).message,
            });
          }
        }
        return { sent, failed };
      },
    };
    await resendLagging(
      {
        state: fleetLaggingState(hosts.filter((h) => involved.has(h.state.name))),
        orders: recording,
        config: () => config,
        ...(log === undefined ? {} : { log }),
      },
      now,
    );
    return lagging.map(
      (l) =>
        outcomes.get(l.container) ?? {
          container: l.container,
          host: l.host,
          sent: false,
          error: 'not sent (the host has no known order queue)',
        },
    );
  };
}
