/**
 * Builds the API's deps from real adapters: the state table, the host queues
 * (SQS), the rules/service catalog, the planner's admission, the Guardian's
 * rule checker and the planner as request sink.
 */
import { randomUUID } from 'node:crypto';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { TableClient } from '../../adapters/dynamodb/table-client.ts';
import { deleteHostQueues, ensureHostQueues, sendOrder } from '../../adapters/sqs/order-queues.ts';
import type { Rule } from '../../core/contracts/rule.ts';
import type { ServiceDoc, ServiceName } from '../../core/contracts/service-config.ts';
import type { Clock } from '../../core/ports/clock.ts';
import type { RequestSink } from '../../core/ports/request-sink.ts';
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
