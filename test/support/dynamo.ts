import { CreateTableCommand, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoDocumentClient } from '../../adapters/aws.ts';
import { tableDefinition } from '../../adapters/dynamodb/table.ts';
import { TableClient } from '../../adapters/dynamodb/table-client.ts';
import type { DynamoFlavour } from '../../local/emulators.ts';
import { dynamoEndpoint, uniqueName } from './env.ts';

export interface TestTable {
  table: TableClient;
  doc: DynamoDBDocumentClient;
  tableName: string;
  drop(): Promise<void>;
}

/** A fresh state table on the given emulator, unique to the caller. */
export async function createTestTable(flavour: DynamoFlavour): Promise<TestTable> {
  const doc = createDynamoDocumentClient({ endpoint: dynamoEndpoint(flavour), region: 'us-east-1' });
  const tableName = uniqueName('sc-test');
  await doc.send(new CreateTableCommand(tableDefinition(tableName)));
  return {
    table: new TableClient(doc, tableName),
    doc,
    tableName,
    drop: async () => {
      await doc.send(new DeleteTableCommand({ TableName: tableName }));
      doc.destroy();
    },
  };
}
