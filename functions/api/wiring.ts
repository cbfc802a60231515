/**
 * Builds the API's deps from real adapters: the state table, the host queues
 * (SQS), the rules/service catalog, the planner's admission, the Guardian's
 * rule checker and the planner as request sink.
 */
import { randomUUID } from 'node:crypto';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { z } from 'zod';
import { createDynamoDocumentClient, createSqsClient } from '../../adapters/aws.ts';
import { functionScope } from '../../adapters/aws-calls.ts';
import { systemClock } from '../../adapters/clock.ts';
import { Catalog } from '../../adapters/dynamodb/catalog.ts';
import { ScalerStore } from '../../adapters/dynamodb/scaler-store.ts';
import { TableClient } from '../../adapters/dynamodb/table-client.ts';
import { readEnvConfig } from '../../adapters/env.ts';
import { createLogger, type Logger } from '../../adapters/logger.ts';
import { ActivityEnv, PlatformEnv } from '../../adapters/platform-env.ts';
import { deleteHostQueues, ensureHostQueues, sendOrder } from '../../adapters/sqs/order-queues.ts';
import type { Rule } from '../../core/contracts/rule.ts';
import type { ServiceDoc, ServiceName } from '../../core/contracts/service-config.ts';
import { defaultConfig } from '../../core/contracts/service-config.ts';
import { admitContainer, releaseContainer } from '../../core/policy/planner/admission.ts';
import { checkRule } from '../../core/policy/rule-check.ts';
import type { Clock } from '../../core/ports/clock.ts';
import type { RequestSink } from '../../core/ports/request-sink.ts';
import { Planner } from '../scaler/scaler-pass.ts';
import { sqsOrderSender } from '../scaler/sqs-order-sender.ts';
import { type Api, createApi } from './app.ts';
import type { Admission, ApiDeps, CheckRule, HostQueuesPort, RuleStore, ServiceStore } from './deps.ts';
import { ApiStore } from './store.ts';

/** The catalog's methods the API uses (adapters/dynamodb/catalog.ts). */
export interface CatalogLike {
  listRules(): Promise<{ rule: Rule; version: number }[]>;
  getRule(name: string): Promise<{ rule: Rule; version: number } | null>;
  putRule(input: unknown, opts?: { expectedVersion?: number | null }): Promise<unknown>;
  deleteRule(name: string, opts?: { expectedVersion?: number }): Promise<void>;
  listServices(): Promise<ServiceDoc[]>;
  getService(service: ServiceName): Promise<ServiceDoc | null>;
  putServiceConfig(
    service: unknown,
    config: unknown,
    opts?: { expectedVersion?: number | null },
  ): Promise<ServiceDoc>;
}

export function catalogPorts(catalog: CatalogLike): { rules: RuleStore; services: ServiceStore } {
  return {
    rules: {
      list: async () => (await catalog.listRules()).map((r) => r.rule),
      get: async (name) => (await catalog.getRule(name))?.rule ?? null,
      put: async (rule) => {
        await catalog.putRule(rule);
      },
      remove: (name) => catalog.deleteRule(name),
    },
    services: {
      list: () => catalog.listServices(),
      get: (name) => catalog.getService(name),
      putConfig: (name, config, expectedVersion) =>
        catalog.putServiceConfig(name, config, { expectedVersion }),
    },
  };
}

export function sqsHostQueues(sqs: SQSClient, prefix: string | undefined): HostQueuesPort {
  const opts = prefix === undefined ? {} : { prefix };
  return {
    ensure: async (host) => ({ queueUrl: (await ensureHostQueues(sqs, host, opts)).queueUrl }),
    remove: (host) => deleteHostQueues(sqs, host, prefix),
    send: async (queueUrl, order) => {
      await sendOrder(sqs, queueUrl, order);
    },
  };
}

export interface ApiParts {
  table: TableClient;
  sqs: SQSClient;
  queuePrefix?: string | undefined;
  catalog: CatalogLike;
  admission: Admission;
  checkRule: CheckRule;
  requests: RequestSink;
  clock: Clock;
}

export function buildApiDeps(parts: ApiParts): ApiDeps {
  return {
    store: new ApiStore(parts.table),
    queues: sqsHostQueues(parts.sqs, parts.queuePrefix),
    admission: parts.admission,
    checkRule: parts.checkRule,
    ...catalogPorts(parts.catalog),
    requests: parts.requests,
    clock: parts.clock,
    newId: () => randomUUID(),
  };
}

/** The API reads only the platform's shared settings (and the retention of the activity it writes). */
export const ApiEnv = PlatformEnv.extend(ActivityEnv.shape).strict();
export type ApiEnv = z.infer<typeof ApiEnv>;

export interface ApiWiring {
  api: Api;
  deps: ApiDeps;
  logger: Logger;
}

/**
 * The API over real clients: the planner as request sink (its Scaler config
 * re-read from the catalog before each submit, so changes apply at once).
 */
export function buildApi(opts: {
  /** The retention may be left out (its default applies), as in tests and the local server. */
  env: Omit<ApiEnv, 'SC_ACTIVITY_RETENTION_DAYS'> & { SC_ACTIVITY_RETENTION_DAYS?: number };
  doc: DynamoDBDocumentClient;
  sqs: SQSClient;
  logger: Logger;
  clock?: Clock;
}): ApiWiring {
  const table = new TableClient(opts.doc, opts.env.SC_TABLE, {
    activityRetentionDays: opts.env.SC_ACTIVITY_RETENTION_DAYS,
  });
  const catalog = new Catalog(table);
  const scalerStore = new ScalerStore(table);
  let scalerConfig = defaultConfig('scaler');
  const planner = new Planner({
    state: scalerStore,
    activity: scalerStore,
    orders: sqsOrderSender(opts.sqs),
    config: () => scalerConfig,
    log: opts.logger,
  });
  const requests: RequestSink = {
    async submit(reqs, now) {
      scalerConfig = await catalog.loadServiceConfig('scaler');
      return planner.submit(reqs, now);
    },
  };
  const deps = buildApiDeps({
    table,
    sqs: opts.sqs,
    queuePrefix: opts.env.SC_QUEUE_PREFIX,
    catalog,
    admission: {
      admitContainer: (host, container, now) =>
        admitContainer(host, container, now, { orderTtlS: scalerConfig.ORDER_TTL }),
      releaseContainer,
    },
    checkRule,
    requests,
    clock: opts.clock ?? systemClock,
  });
  return { api: createApi(deps, opts.logger), deps, logger: opts.logger };
}

/** The Lambda's wiring: endpoints and credentials from the SDK's environment. */
export function buildApiFromEnv(rawEnv: Record<string, string | undefined>): ApiWiring {
  const env = readEnvConfig(ApiEnv, rawEnv, 'api environment');
  return buildApi({
    env,
    doc: createDynamoDocumentClient({ record: functionScope('api', env) }),
    sqs: createSqsClient({ record: functionScope('api', env) }),
    logger: createLogger('api'),
  });
}
