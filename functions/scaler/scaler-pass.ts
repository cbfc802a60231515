/**
 * The Scaler use case: the RequestSink the Guardian, the API and the
 * ReBalancer submit scaling requests to. It validates the requests, loads the
 * state of the hosts involved, plans purely (core/policy/planner), commits
 * each changed host with one conditional write on its version (re-planning
 * that host from fresh state when it loses a race), sends the orders to each
 * host's queue and records the activity.
 *
 * An order that fails to send after its commit is not lost: the desired
 * version is ahead of the applied one, and resendLagging (resend.ts) repairs it.
 */

import type { Logger } from '../../adapters/logger.ts';
import { silentLogger } from '../../adapters/logger.ts';
import type { Activity } from '../../core/contracts/activity.ts';
import type { HostState } from '../../core/contracts/host.ts';
import { own } from '../../core/contracts/keyed.ts';
import type { ScaleOrder } from '../../core/contracts/order.ts';
import { ScaleRequest } from '../../core/contracts/request.ts';
import type { ScalerConfig } from '../../core/contracts/service-config.ts';
import type { Application } from '../../core/contracts/structure.ts';
import { StaleStateError } from '../../core/errors.ts';
import { mapLimit } from '../../core/map-limit.ts';
import { plan, type Rejection, type UsageByContainer } from '../../core/policy/planner/plan.ts';
import type { RequestSink, SubmitHints, SubmitResult } from '../../core/ports/request-sink.ts';
import type { ActivityLog, OrderSender, PlannerState } from './ports.ts';

export interface PlannerDeps {
  state: PlannerState;
  activity: ActivityLog;
  orders: OrderSender;
  /** Read on every submit, so hot-reloaded configs apply at once. */
  config: () => ScalerConfig;
  log?: Logger;
  /** Re-plans of one host after lost races before its requests are rejected. Default 5. */
  maxRetries?: number;
  /** Hosts committed (and orders sent) at once. Default 32. */
  concurrency?: number;
}

export interface SubmitDetails extends SubmitResult {
  /** Orders committed but not sent (queue unknown or send failed): the resend sweep repairs them. */
  unsent: number;
  /** Hosts written. */
  committedHosts: number;
  /** Lost races that were re-planned. */
  retries: number;
  notes: Rejection[];
  /** Wall time of each phase, ms. */
  timings: { loadMs: number; planMs: number; commitMs: number; sendMs: number; activityMs: number };
}

/**
 * Hosts committed (and their orders sent) at once: each is one conditional
 * write and two SendMessageBatch calls, so 32 in flight hides latency without
 * nearing DynamoDB's or SQS's per-partition and per-queue limits.
 */
const DEFAULT_CONCURRENCY = 32;

/** Resources the Guardian and the ReBalancer may only scale when guarded; operators may scale any. */
const GUARD_CHECKED_SOURCES = new Set(['guardian', 'rebalancer']);

export class Planner implements RequestSink {
  private readonly deps: PlannerDeps;
  /** container → host; a stale entry is detected (container not on that host) and re-read. */
  private readonly located = new Map<string, string>();

  constructor(deps: PlannerDeps) {
    this.deps = deps;
  }

  async submit(requests: readonly ScaleRequest[], now: number, hints?: SubmitHints): Promise<SubmitResult> {
    const { accepted, rejected, orders } = await this.submitDetailed(requests, now, hints);
    return { accepted, rejected, orders };
  }

  async submitDetailed(
    requests: readonly unknown[],
    now: number,
    opts: SubmitHints & { usage?: UsageByContainer } = {},
  ): Promise<SubmitDetails> {
    const usage = opts.usage ?? {};
    const config = this.deps.config();
    const log = this.deps.log ?? silentLogger;
    const rejected: Rejection[] = [];
    const valid: ScaleRequest[] = [];
    for (const [i, raw] of requests.entries()) {
      const parsed = ScaleRequest.safeParse(raw);
      const id = typeof (raw as { id?: unknown })?.id === 'string' ? (raw as { id: string }).id : `#${i}`;
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        rejected.push({
          id,
          reason: `invalid ${issue?.path.join('.') || 'request'}: ${issue?.message ?? 'invalid'}`,
        });
        continue;
      }
      const r = parsed.data;
      if (r.pairStructure !== null && r.amount < 0) {
        rejected.push({ id, reason: 'invalid amount: a pair request moves a positive amount' });
        continue;
      }
      valid.push(r);
    }

    const t0 = performance.now();
    const ctx = await this.load(valid, rejected, opts);
    const t1 = performance.now();
    const planned = plan({
      hosts: [...ctx.hosts.values()],
      requests: ctx.requests,
      applications: Object.fromEntries(ctx.applications),
      usage,
      config,
      now,
    });
    rejected.push(...planned.rejected);
    const t2 = performance.now();
    const details: SubmitDetails = {
      accepted: 0,
      rejected,
      orders: 0,
      unsent: 0,
      committedHosts: 0,
      retries: 0,
      notes: [...planned.notes],
      timings: { loadMs: t1 - t0, planMs: t2 - t1, commitMs: 0, sendMs: 0, activityMs: 0 },
    };
    const originals = new Set(ctx.requests.map((r) => r.id));
    const originOf = (id: string): string => (originals.has(id) ? id : id.slice(0, id.lastIndexOf('/')));

    if (config.DRY_RUN) {
      details.accepted = planned.accepted.length;
      return details;
    }

    const accepted = new Set<string>();
    const committed: { host: HostState; orders: ScaleOrder[] }[] = [];
    const ordersByHost = new Map<string, ScaleOrder[]>();
    for (const o of planned.orders) {
      const list = ordersByHost.get(o.host);
      if (list === undefined) ordersByHost.set(o.host, [o]);
      else list.push(o);
    }
    const concurrency = this.deps.concurrency ?? DEFAULT_CONCURRENCY;
    await mapLimit(planned.hosts, concurrency, async (next) => {
      const original = ctx.hosts.get(next.name) as HostState;
      const hostRequests = own(planned.requestsByHost, next.name) ?? [];
      let candidate = next;
      let expected = original.version;
      let orders = ordersByHost.get(next.name) ?? [];
      let ids = hostRequests.map((r) => originOf(r.id));
      for (let attempt = 0; ; attempt++) {
        try {
          await this.deps.state.commitHost(candidate, expected);
          committed.push({ host: candidate, orders });
          for (const id of ids) accepted.add(id);
          return;
        } catch (err) {
          if (!(err instanceof StaleStateError)) throw err;
          const fresh = err.current as HostState | null;
          if (fresh === null || attempt >= (this.deps.maxRetries ?? 5)) {
            for (const id of new Set(hostRequests.map((r) => originOf(r.id))))
              rejected.push({
                id,
                reason:
                  fresh === null
                    ? `host ${next.name} disappeared`
                    : `host ${next.name} changed concurrently too often`,
              });
            return;
          }
          details.retries += 1;
          const again = plan({
            hosts: [fresh],
            requests: hostRequests,
            usage,
            config,
            now,
            skipDedupe: true,
          });
          const replanned = again.hosts[0];
          if (replanned === undefined) {
            for (const r of again.rejected) rejected.push({ id: originOf(r.id), reason: r.reason });
            return;
          }
          candidate = replanned;
          expected = fresh.version;
          orders = again.orders;
          ids = again.accepted.map(originOf);
          for (const r of again.rejected) rejected.push({ id: originOf(r.id), reason: r.reason });
        }
      }
    });
    const t3 = performance.now();
    details.timings.commitMs = t3 - t2;
    details.committedHosts = committed.length;
    details.accepted = accepted.size;

    const allOrders = committed.flatMap((c) =>
      c.orders.map((o) => ({ order: o, queueUrl: c.host.queueUrl })),
    );
    await mapLimit(committed, concurrency, async ({ host, orders }) => {
      if (orders.length === 0) return;
      if (host.queueUrl === null) {
        details.unsent += orders.length;
        log.warn(
          { host: host.name, orders: orders.length },
          'host has no queue; the resend sweep will send its orders',
        );
        return;
      }
      const out = await this.deps.orders.send(host.queueUrl, orders).catch((err: unknown) => {
        log.warn({ err, host: host.name }, 'orders not sent');
        return { sent: 0, failed: orders.length };
      });
      details.orders += out.sent;
      details.unsent += out.failed;
      if (out.failed > 0)
        log.warn(
          { host: host.name, failed: out.failed },
          'orders not sent; the resend sweep will repeat them',
        );
    });
    const t4 = performance.now();
    details.timings.sendMs = t4 - t3;
    const lines: { activity: Activity; seq: string; host?: string | null }[] = allOrders.map(({ order }) => ({
      seq: order.orderId,
      host: order.host,
      activity: {
        structure: order.container,
        at: now,
        kind: 'order',
        resource: null,
        text: `order v${order.desiredVersion} to ${order.host}`,
        reasons: order.reasons,
        data: { version: order.desiredVersion, ...flatLimits(order) },
      },
    }));
    const byId = new Map(ctx.requests.map((r) => [r.id, r]));
    for (const r of rejected) {
      const req = byId.get(r.id);
      if (req === undefined) continue;
      lines.push({
        seq: `rej.${r.id}`,
        activity: {
          structure: req.structure,
          at: now,
          kind: 'decision',
          resource: req.resource,
          text: `request ${r.id} (${req.amount > 0 ? '+' : ''}${req.amount} ${req.field}) rejected: ${r.reason}`,
          reasons: req.reasons,
          data: { request: r.id },
        },
      });
    }
    try {
      await this.deps.activity.recordActivity(lines);
    } catch (err) {
      log.warn({ err, lines: lines.length }, 'activity not recorded');
    }
    details.timings.activityMs = performance.now() - t4;
    if (rejected.length > 0) log.info({ rejected: rejected.length }, 'requests rejected');
    return details;
  }

  /** Locate containers, load their hosts and applications; reject what names nothing known. */
  private async load(
    requests: readonly ScaleRequest[],
    rejected: Rejection[],
    hints: SubmitHints,
  ): Promise<{
    hosts: Map<string, HostState>;
    applications: Map<string, Application>;
    requests: ScaleRequest[];
  }> {
    const { state } = this.deps;
    const applications = new Map<string, Application>();
    const appNames = [
      ...new Set(requests.filter((r) => r.structureType === 'application').map((r) => r.structure)),
    ];
    await Promise.all(
      appNames.map(async (name) => {
        const app = await state.getApplication(name);
        if (app !== null) applications.set(name, app);
      }),
    );
    const containerNames = new Set<string>();
    for (const r of requests) {
      if (r.structureType === 'container') {
        containerNames.add(r.structure);
        if (r.pairStructure !== null) containerNames.add(r.pairStructure);
      } else if (r.structureType === 'application')
        for (const c of applications.get(r.structure)?.containers ?? []) containerNames.add(c);
    }
    const hosts = new Map<string, HostState>();
    const missingHosts = new Set<string>();
    const loadHost = async (name: string): Promise<void> => {
      if (hosts.has(name) || missingHosts.has(name)) return;
      const h = hints.hosts?.get(name) ?? (await state.getHost(name));
      if (h === null) missingHosts.add(name);
      else hosts.set(name, h);
    };
    const where = new Map<string, string | null>();
    // A producer's hint or a cached location, else the locator item; checked against the host below.
    const locate = async (name: string, fresh: boolean): Promise<void> => {
      const cached = fresh ? undefined : (hints.hostOf?.get(name) ?? this.located.get(name));
      const host = cached ?? (await state.locateContainer(name));
      where.set(name, host);
      if (host === null) this.located.delete(name);
      else this.located.set(name, host);
    };
    await mapLimit([...containerNames], 32, (n) => locate(n, false));
    await mapLimit([...new Set([...where.values()].filter((h): h is string => h !== null))], 32, loadHost);
    // hinted or cached locations that no longer hold the container: read the locator again
    const stale = [...containerNames].filter((n) => {
      const h = where.get(n);
      return h !== null && h !== undefined && own(hosts.get(h)?.containers, n) === undefined;
    });
    if (stale.length > 0) {
      await mapLimit(stale, 32, (n) => locate(n, true));
      await mapLimit(
        [...new Set(stale.map((n) => where.get(n)).filter((h): h is string => typeof h === 'string'))],
        32,
        loadHost,
      );
    }

    const kept: ScaleRequest[] = [];
    const check = (r: ScaleRequest, name: string): string | null => {
      const hostName = where.get(name) ?? null;
      if (hostName === null) return `unknown structure ${name}`;
      if (missingHosts.has(hostName)) return `unknown host ${hostName} (of ${name})`;
      const c = own(hosts.get(hostName)?.containers, name);
      if (c === undefined) return `unknown structure ${name} (not on ${hostName})`;
      const spec = c.resources[r.resource];
      if (spec === undefined) return `${name} has no ${r.resource}`;
      if (GUARD_CHECKED_SOURCES.has(r.source) && !spec.guard)
        return `unguarded resource ${r.resource} of ${name}`;
      return null;
    };
    for (const r of requests) {
      let problem: string | null = null;
      if (r.structureType === 'user') problem = 'user requests are not planned; scale its applications';
      else if (r.structureType === 'application') {
        const app = applications.get(r.structure);
        if (app === undefined) problem = `unknown structure ${r.structure}`;
        else if (GUARD_CHECKED_SOURCES.has(r.source) && app.resources[r.resource]?.guard === false)
          problem = `unguarded resource ${r.resource} of ${r.structure}`;
      } else {
        problem = check(r, r.structure) ?? (r.pairStructure === null ? null : check(r, r.pairStructure));
      }
      if (problem === null) kept.push(r);
      else rejected.push({ id: r.id, reason: problem });
    }
    return { hosts, applications, requests: kept };
  }
}

function flatLimits(order: ScaleOrder): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const [k, v] of Object.entries(order.limits)) if (v !== undefined) out[k] = v;
  return out;
}
