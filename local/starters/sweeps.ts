/**
 * The sweeps as deployed: the snapshoter (the whole fleet → time series once a minute; the
 * dashboard's current/upper/lower history comes from the control tick's snapshot every tick)
 * and the sanity sweep (drift, dead agents, re-send), each under its own schedule and lease,
 * built as their handlers build them (functions/ops/wiring.ts). (The ReBalancer is off by
 * default and not scheduled here.)
 */
import type { Logger } from '../../adapters/logger.ts';
import type { MetricsSource } from '../../core/ports/metrics-source.ts';
import { readOpsEnv } from '../../functions/ops/env.ts';
import { buildSanity, buildSnapshoter } from '../../functions/ops/wiring.ts';
import type { LocalPlatform } from '../platform.ts';
import { startSchedule } from '../scheduler.ts';
import { functionClients } from './function-clients.ts';
import type { Stops } from './local.ts';

/** The sweeps as deployed (serverless.yml `snapshoter`, `sanity`). */
export const SWEEP = { rate: 'rate(1 minute)', timeoutMs: 55_000 } as const;

export function startSweeps(o: {
  platform: LocalPlatform;
  promUrl: string;
  opentsdbUrl: string;
  metrics: MetricsSource;
  logger: (component: string) => Logger;
  stops: Stops;
}): void {
  const opsEnv = readOpsEnv({
    ...o.platform.env,
    SC_METRICS_BACKEND: 'prometheus',
    SC_METRICS_URL: o.promUrl,
    SC_OPENTSDB_URL: o.opentsdbUrl,
  });
  // Each sweep its own clients, as its handler has: its calls recorded as that function's.
  const clients = {
    snapshoter: functionClients(o.platform, 'snapshoter'),
    sanity: functionClients(o.platform, 'sanity'),
  };
  o.stops.push({
    what: 'sweep clients',
    stop: async () => {
      for (const c of Object.values(clients)) c.destroy();
    },
  });
  const sweeps = [
    buildSnapshoter(opsEnv, { ...clients.snapshoter, metrics: o.metrics, logger: o.logger('snapshoter') }),
    buildSanity(opsEnv, { ...clients.sanity, logger: o.logger('sanity') }),
  ];
  const abort = new AbortController();
  for (const sweep of sweeps) {
    const running = startSchedule({
      name: sweep.name,
      rate: SWEEP.rate,
      timeoutMs: SWEEP.timeoutMs,
      signal: abort.signal,
      logger: sweep.logger,
      handler: (_event, context) => sweep.invoke(context, abort.signal),
    });
    o.stops.push({
      what: sweep.name,
      stop: async () => {
        abort.abort();
        await running.done;
      },
    });
  }
}
