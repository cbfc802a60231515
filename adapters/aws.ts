/**
 * AWS SDK clients, built once per process. Endpoints come only from the SDK's
 * standard variables (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_DYNAMODB,
 * AWS_ENDPOINT_URL_SQS), so the same code runs on AWS, the local emulators
 * and LocalStack.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface ClientOptions {
  /** Override of the endpoint (tests); otherwise the SDK reads the environment. */
  endpoint?: string;
  region?: string;
  /** Explicit credentials (local emulators); otherwise the SDK's default provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Give up on one HTTP request after this long (the SDK then retries); default: no limit. */
  requestTimeoutMs?: number;
}

function common(opts: ClientOptions) {
  return {
    ...(opts.endpoint === undefined ? {} : { endpoint: opts.endpoint }),
    ...(opts.region === undefined ? {} : { region: opts.region }),
    ...(opts.credentials === undefined ? {} : { credentials: opts.credentials }),
    ...(opts.requestTimeoutMs === undefined
      ? {}
      : { requestHandler: { requestTimeout: opts.requestTimeoutMs, connectionTimeout: 3000 } }),
    maxAttempts: 4,
  };
}

export function createDynamoDocumentClient(opts: ClientOptions = {}): DynamoDBDocumentClient {
  const client = new DynamoDBClient(common(opts));
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
}

function sqsEndpointConfigured(opts: ClientOptions, env: NodeJS.ProcessEnv): boolean {
  return opts.endpoint !== undefined || Boolean(env.AWS_ENDPOINT_URL_SQS) || Boolean(env.AWS_ENDPOINT_URL);
}

export function createSqsClient(opts: ClientOptions = {}, env: NodeJS.ProcessEnv = process.env): SQSClient {
  return new SQSClient({
    ...common(opts),
    // Emulators return queue URLs on hosts that do not resolve; send to the configured endpoint instead.
    useQueueUrlAsEndpoint: !sqsEndpointConfigured(opts, env),
  });
}
