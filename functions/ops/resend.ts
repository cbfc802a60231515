/**
 * Re-sends the order that brings a lagging container to its desired state:
 * built from the desired state in the host item (orders are declarative, so a
 * late duplicate is harmless: the agent ignores versions it has applied).
 * A fresh dedup id per re-send, so SQS FIFO deduplication (5 min) cannot
 * swallow it. The planner's own re-send (functions/scaler/resend.ts) can take
 * this step's place: the sweep only needs a `ResendStep`.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { HostView } from '../../adapters/dynamodb/fleet.ts';
import { hostQueueUrl, sendOrder } from '../../adapters/sqs/order-queues.ts';
import type { HostState } from '../../core/contracts/host.ts';
import type { OrderLimits, ScaleOrder } from '../../core/contracts/order.ts';
import type { Container } from '../../core/contracts/structure.ts';
import type { Lagging } from '../../core/policy/sanity.ts';

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
  orderTtlS: number,
) => Promise<ResendOutcome[]>;

/** "0,1,2,5" → "0-2,5" */
export function cpusetList(cores: readonly string[]): string {
  const ids = [...new Set(cores.map(Number))].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < ids.length; ) {
    let j = i;
    while (j + 1 < ids.length && (ids[j + 1] as number) === (ids[j] as number) + 1) j += 1;
    parts.push(i === j ? String(ids[i]) : `${ids[i]}-${ids[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** The order limits that express a container's whole desired state. */
export function desiredLimits(c: Container, placement: HostState['cpuPlacement']): OrderLimits {
  const limits: OrderLimits = {};
  const r = c.resources;
  if (r.cpu !== undefined && r.cpu.current >= 1) limits.cpuShares = r.cpu.current;
  if (placement === 'pinned' && c.cores.length > 0) limits.cpuset = cpusetList(c.cores);
  if (r.mem !== undefined && r.mem.current >= 4) limits.memMiB = r.mem.current;
  if (r.disk_read !== undefined && r.disk_read.current >= 1) limits.diskReadMiBps = r.disk_read.current;
  if (r.disk_write !== undefined && r.disk_write.current >= 1) limits.diskWriteMiBps = r.disk_write.current;
  if (r.net !== undefined && r.net.current >= 1) limits.netMbps = r.net.current;
  return limits;
}

export function resendOrder(host: HostState, lag: Lagging, now: number, ttlS: number): ScaleOrder | null {
  const c = host.containers[lag.container];
  if (c === undefined || c.desiredVersion < 1) return null;
  return {
    kind: 'scale-order',
    orderId: `${c.name}.v${c.desiredVersion}.r${now}`,
    host: host.name,
    container: c.name,
    desiredVersion: c.desiredVersion,
    issuedAt: now,
    expiresAt: now + ttlS * 1000,
    limits: desiredLimits(c, host.cpuPlacement),
    reasons: [
      {
        source: 'sanity',
        text: `re-sent: applied ${lag.appliedVersion === null ? 'nothing' : `v${lag.appliedVersion}`} < desired v${lag.desiredVersion} for ${Math.round(lag.lagS)} s`,
        values: {
          desiredVersion: lag.desiredVersion,
          appliedVersion: lag.appliedVersion,
          lagS: Math.round(lag.lagS),
        },
      },
    ],
  };
}

/** A ResendStep over the hosts' SQS queues. */
export function resendViaQueues(sqs: SQSClient, opts: { queuePrefix?: string } = {}): ResendStep {
  return async (lagging, hosts, now, orderTtlS) => {
    const byHost = new Map(hosts.map((h) => [h.state.name, h.state]));
    const out: ResendOutcome[] = [];
    for (const lag of lagging) {
      const host = byHost.get(lag.host);
      const order = host === undefined ? null : resendOrder(host, lag, now, orderTtlS);
      if (host === undefined || order === null) {
        out.push({
          container: lag.container,
          host: lag.host,
          sent: false,
          error: 'container no longer on its host',
        });
        continue;
      }
      try {
        const url = host.queueUrl ?? (await hostQueueUrl(sqs, host.name, opts.queuePrefix));
        if (url === null) throw new Error(`host ${host.name} has no order queue`);
        await sendOrder(sqs, url, order);
        out.push({ container: lag.container, host: lag.host, sent: true });
      } catch (err) {
        out.push({ container: lag.container, host: lag.host, sent: false, error: (err as Error).message });
      }
    }
    return out;
  };
}
