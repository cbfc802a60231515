/** Environment of the operations functions (ReBalancer, snapshoter, sanity sweep), parsed once. */
import { z } from 'zod';
import { readEnvConfig } from '../../adapters/env.ts';
import { OpenTsdbMetricsSource } from '../../adapters/metrics/opentsdb.ts';
import { PrometheusMetricsSource } from '../../adapters/metrics/prometheus.ts';
import { ActivityEnv, PlatformEnv } from '../../adapters/platform-env.ts';
import type { MetricsSource } from '../../core/ports/metrics-source.ts';

export const OpsEnv = PlatformEnv.extend({
  ...ActivityEnv.shape,
  /** Where usage is read (as the Guardian): 'opentsdb' (BDWatchdog's TSD) or 'prometheus' (query API). */
  SC_METRICS_BACKEND: z.enum(['opentsdb', 'prometheus']).default('opentsdb'),
  SC_METRICS_URL: z.url().optional(),
  /** OpenTSDB-compatible base URL whose /api/put receives the snapshots (OpenTSDB :4242, VictoriaMetrics' listener). */
  SC_OPENTSDB_URL: z.url().optional(),
});
export type OpsEnv = z.infer<typeof OpsEnv>;

export function readOpsEnv(env: Record<string, string | undefined> = process.env): Readonly<OpsEnv> {
  // No ownPrefix: functions share the provider's SC_* variables, each reads only its own.
  return readEnvConfig(OpsEnv, env, 'operations functions');
}

export function requireSetting<K extends keyof OpsEnv>(
  env: Readonly<OpsEnv>,
  key: K,
): NonNullable<OpsEnv[K]> {
  const v = env[key];
  if (v === undefined || v === null) throw new Error(`operations functions: ${String(key)} must be set`);
  return v as NonNullable<OpsEnv[K]>;
}

/** The usage source the environment names (same backends as the Guardian's). */
export function metricsSourceFromEnv(env: Readonly<OpsEnv>): MetricsSource {
  const url = requireSetting(env, 'SC_METRICS_URL');
  return env.SC_METRICS_BACKEND === 'opentsdb'
    ? new OpenTsdbMetricsSource({ url })
    : new PrometheusMetricsSource({ url });
}
