/**
 * Emulators (dynalite + fauxqs, in this process), a state table, the host's
 * queues and HostState, for host tests that drive a real agent through the
 * real queue.
 */
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { createDynamoDocumentClient, createSqsClient } from '../../../adapters/aws.ts';
import { tableDefinition } from '../../../adapters/dynamodb/table.ts';
import { TableClient } from '../../../adapters/dynamodb/table-client.ts';
import { ensureHostQueues, type HostQueues, sendOrder } from '../../../adapters/sqs/order-queues.ts';
import type { HostState } from '../../../core/contracts/host.ts';
import { orderId, type ScaleOrder } from '../../../core/contracts/order.ts';
import { keys } from '../../../core/contracts/table-layout.ts';
import { type Running, startDynalite, startFauxqs } from '../../../local/emulators.ts';

export interface Harness {
  host: string;
  tableName: string;
  table: TableClient;
  sqs: SQSClient;
  queues: HostQueues;
  dynamoEndpoint: string;
  sqsEndpoint: string;
  putHost(state: HostState): Promise<void>;
  send(container: string, version: number, limits: ScaleOrder['limits']): Promise<void>;
  applied(container: string): Promise<Record<string, unknown> | null>;
  waitApplied(container: string, version: number, timeoutMs?: number): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'local';
process.env.AWS_SECRET_ACCESS_KEY ??= 'local';

export async function startHarness(
  host: string,
  queueOpts: { maxReceiveCount?: number; visibilityTimeoutS?: number } = {},
): Promise<Harness> {
  const started: Running[] = [];
  const [ddb, sqsEmu] = await Promise.all([startDynalite(), startFauxqs()]);
  started.push(ddb, sqsEmu);
  const doc = createDynamoDocumentClient({ endpoint: ddb.endpoint, region: 'us-east-1' });
  const tableName = 'sc-host-test';
  await doc.send(new CreateTableCommand(tableDefinition(tableName)));
  const table = new TableClient(doc, tableName);
  const sqs = createSqsClient({ endpoint: sqsEmu.endpoint, region: 'us-east-1' });
  const queues = await ensureHostQueues(sqs, host, queueOpts);
  const h: Harness = {
    host,
    tableName,
    table,
    sqs,
    queues,
    dynamoEndpoint: ddb.endpoint,
    sqsEndpoint: sqsEmu.endpoint,
    putHost: (state) => table.put({ ...keys.hostState(host), ...state, queueUrl: queues.queueUrl }),
    async send(container, version, limits) {
      const now = Date.now();
      await sendOrder(sqs, queues.queueUrl, {
        kind: 'scale-order',
        orderId: orderId(container, version),
        host,
        container,
        desiredVersion: version,
        issuedAt: now,
        expiresAt: now + 60_000,
        limits,
        reasons: [],
      } satisfies ScaleOrder);
    },
    applied: (container) => table.get(keys.applied(host, container)),
    async waitApplied(container, version, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const item = await h.applied(container);
        if (item !== null && Number(item.appliedVersion) >= version) return item;
        if (Date.now() > deadline)
          throw new Error(`${container} never reported v${version} (last: ${JSON.stringify(item)})`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      sqs.destroy();
      doc.destroy();
      await Promise.all(started.map((s) => s.stop()));
    },
  };
  return h;
}
