import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoDocumentClient } from '../../adapters/aws.ts';
import { functionScope, type RecordScope } from '../../adapters/aws-calls.ts';
import { TableClient } from '../../adapters/dynamodb/table-client.ts';
import { DEFAULT_QUEUE_PREFIX } from '../../core/contracts/order-queue.ts';
import { ensureTable } from '../../local/bootstrap.ts';
import type { DynamoFlavour } from '../../local/emulators.ts';
import { dynamoEndpoint, uniqueName } from './env.ts';

export interface TestTable {
  table: TableClient;
  doc: DynamoDBDocumentClient;
  tableName: string;
  /**
   * The same table through a client whose calls are recorded as `deployable`'s (adapters/aws-calls.ts):
   * give it to the use case under test (not to the test's own seeding), and `record` to its SQS client.
   */
  as(deployable: string, queuePrefix?: string): { table: TableClient; record: RecordScope };
  drop(): Promise<void>;
}

/** A fresh state table on the given emulator, unique to the caller. */
export async function createTestTable(flavour: DynamoFlavour): Promise<TestTable> {
  const doc = createDynamoDocumentClient({ endpoint: dynamoEndpoint(flavour), region: 'us-east-1' });
  const tableName = uniqueName('sc-test');
  // As on DynamoDB, a new table answers ResourceNotFound until it is ACTIVE (dynalite too, for a
  // moment under load): wait as the product's bootstrap does.
  await ensureTable(doc, tableName);
  const own: DynamoDBDocumentClient[] = [];
  return {
    table: new TableClient(doc, tableName),
    doc,
    tableName,
    as(deployable, queuePrefix = DEFAULT_QUEUE_PREFIX) {
      const record = functionScope(deployable, { SC_TABLE: tableName, SC_QUEUE_PREFIX: queuePrefix });
      const client = createDynamoDocumentClient({
        endpoint: dynamoEndpoint(flavour),
        region: 'us-east-1',
        record,
      });
      own.push(client);
      return { table: new TableClient(client, tableName), record };
    },
    drop: async () => {
      await doc.send(new DeleteTableCommand({ TableName: tableName }));
      doc.destroy();
      for (const c of own) c.destroy();
    },
  };
}
