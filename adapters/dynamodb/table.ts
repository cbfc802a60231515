/**
 * The single state table's definition (CreateTable input and its TTL). Its key
 * layout is the contract in core/contracts/table-layout.ts, shared with the
 * host agent; docs/state.md has the access-pattern table both serve.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { GSI1, TTL_ATTRIBUTE } from '../../core/contracts/table-layout.ts';

/** What UpdateTimeToLive enables (CreateTable cannot; bootstrap and serverless.yml do). */
export const TIME_TO_LIVE = { AttributeName: TTL_ATTRIBUTE, Enabled: true } as const;

export function tableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
      { AttributeName: 'gsi1pk', AttributeType: 'S' },
      { AttributeName: 'gsi1sk', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: GSI1,
        KeySchema: [
          { AttributeName: 'gsi1pk', KeyType: 'HASH' },
          { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ],
  };
}
