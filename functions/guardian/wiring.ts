/**
 * What the control-tick handler needs, built once per process from a strict
 * environment: the state table, the metrics source, the request sink.
 */
import { z } from 'zod';
import { createDynamoDocumentClient } from '../../adapters/aws.ts';
import { DEFAULT_TABLE_NAME } from '../../adapters/dynamodb/table.ts';
import { TableClient } from '../../adapters/dynamodb/table-client.ts';
import { readEnvConfig } from '../../adapters/env.ts';
import { createLogger, type Logger } from '../../adapters/logger.ts';
import { OpenTsdbMetricsSource } from '../../adapters/metrics/opentsdb.ts';
import { PrometheusMetricsSource } from '../../adapters/metrics/prometheus.ts';
import type { MetricsSource } from '../../core/ports/metrics-source.ts';
import type { RequestSink } from '../../core/ports/request-sink.ts';
import { RecordingRequestSink } from './recording-request-sink.ts';

export const GuardianEnv = z.strictObject({
  SC_TABLE_NAME: z.string().min(3).default(DEFAULT_TABLE_NAME),
  /** 'opentsdb': BDWatchdog's TSD /api/query; 'prometheus': Prometheus query API (VictoriaMetrics). */
  SC_METRICS_BACKEND: z.enum(['opentsdb', 'prometheus']).default('opentsdb'),
  SC_METRICS_URL: z.url(),
  SC_METRICS_BATCH_SIZE: z.coerce.number().int().min(1).max(5000).default(250),
  SC_METRICS_TIMEOUT_MS: z.coerce.number().int().min(100).max(30000).default(3000),
  /** Kept free before the invocation deadline, ms. */
  SC_TICK_RESERVE_MS: z.coerce.number().int().min(0).max(60000).default(1500),
});
export type GuardianEnv = z.infer<typeof GuardianEnv>;

export interface GuardianWiring {
  env: GuardianEnv;
  table: TableClient;
  metrics: MetricsSource;
  sink: RequestSink;
  logger: Logger;
}

export function metricsSourceFor(env: GuardianEnv): MetricsSource {
  const opts = {
    url: env.SC_METRICS_URL,
    batchSize: env.SC_METRICS_BATCH_SIZE,
    timeoutMs: env.SC_METRICS_TIMEOUT_MS,
  };
  return env.SC_METRICS_BACKEND === 'opentsdb'
    ? new OpenTsdbMetricsSource(opts)
    : new PrometheusMetricsSource(opts);
}

export function buildGuardian(rawEnv: Record<string, string | undefined>): GuardianWiring {
  const env = readEnvConfig(GuardianEnv, rawEnv, 'guardian environment');
  const logger = createLogger('guardian');
  return {
    env,
    table: new TableClient(createDynamoDocumentClient(), env.SC_TABLE_NAME),
    metrics: metricsSourceFor(env),
    // Interim until the planner is merged: requests are recorded (activity + logs), not planned.
    sink: new RecordingRequestSink(logger),
    logger,
  };
}
