/**
 * AWS SDK clients, built once per process. Endpoints come only from the SDK's
 * standard variables (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_DYNAMODB,
 * AWS_ENDPOINT_URL_SQS), so the same code runs on AWS, the local emulators
 * and LocalStack.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { callRecorder, type RecordScope } from './aws-calls.ts';

export interface ClientOptions {
  /** Override of the endpoint (tests); otherwise the SDK reads the environment. */
  endpoint?: string;
  region?: string;
  /** Explicit credentials (local emulators); otherwise the SDK's default provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Give up on one HTTP request after this long (the SDK then retries); default: no limit. */
  requestTimeoutMs?: number;
  /** The deployable these calls belong to, recorded when SC_RECORD_AWS_CALLS is set (adapters/aws-calls.ts). */
  record?: RecordScope;
}

interface StackClient {
  middlewareStack: {
    add(
      mw: (
        next: (args: { input: object }) => Promise<unknown>,
        context: { commandName?: string },
      ) => (args: { input: object }) => Promise<unknown>,
      opts: { step: 'initialize'; name: string },
    ): void;
  };
}

/** Records each command (name and input) before it is sent, when recording is on. */
function recordCalls(client: StackClient, service: 'dynamodb' | 'sqs', opts: ClientOptions): void {
  const record = callRecorder(opts.record);
  if (record === null) return;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      record(service, (context.commandName ?? 'Unknown').replace(/Command$/, ''), args.input as never);
      return next(args);
    },
    { step: 'initialize', name: 'scRecordAwsCalls' },
  );
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
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  recordCalls(doc as unknown as StackClient, 'dynamodb', opts);
  return doc;
}

function sqsEndpointConfigured(opts: ClientOptions, env: NodeJS.ProcessEnv): boolean {
  return opts.endpoint !== undefined || Boolean(env.AWS_ENDPOINT_URL_SQS) || Boolean(env.AWS_ENDPOINT_URL);
}

export function createSqsClient(opts: ClientOptions = {}, env: NodeJS.ProcessEnv = process.env): SQSClient {
  const client = new SQSClient({
    ...common(opts),
    // Emulators return queue URLs on hosts that do not resolve; send to the configured endpoint instead.
    useQueueUrlAsEndpoint: !sqsEndpointConfigured(opts, env),
  });
  recordCalls(client as unknown as StackClient, 'sqs', opts);
  return client;
}
