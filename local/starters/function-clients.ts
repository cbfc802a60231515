/**
 * A function's own SDK clients in the local loop, built as its handler builds them: its AWS calls
 * are recorded as that function's when SC_RECORD_AWS_CALLS names a file (adapters/aws-calls.ts), so
 * the loop's control tick and sweeps prove their IAM like the agent it runs (test/fixtures/aws-calls.jsonl).
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoDocumentClient, createSqsClient } from '../../adapters/aws.ts';
import { functionScope } from '../../adapters/aws-calls.ts';
import type { LocalPlatform } from '../platform.ts';
import { LOCAL } from './local.ts';

export interface FunctionClients {
  dynamo: DynamoDBDocumentClient;
  sqs: SQSClient;
  destroy(): void;
}

/** `deployable`: serverless.yml's function name (controlTick, sanity, snapshoter, …). */
export function functionClients(
  platform: Pick<LocalPlatform, 'endpoints' | 'tableName' | 'queuePrefix'>,
  deployable: string,
  clockQueueUrl?: string,
): FunctionClients {
  const record = functionScope(deployable, {
    SC_TABLE: platform.tableName,
    SC_QUEUE_PREFIX: platform.queuePrefix,
    SC_CLOCK_QUEUE_URL: clockQueueUrl,
  });
  const dynamo = createDynamoDocumentClient({ endpoint: platform.endpoints.dynamodb, ...LOCAL, record });
  const sqs = createSqsClient({ endpoint: platform.endpoints.sqs, ...LOCAL, record });
  return {
    dynamo,
    sqs,
    destroy() {
      dynamo.destroy();
      sqs.destroy();
    },
  };
}
