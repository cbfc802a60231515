/**
 * The agent's SQS calls, and only those, over the AWS JSON 1.0 protocol (what SDK v3 speaks
 * too): receive, delete, change visibility, send (dead-lettering malformed messages) and
 * GetQueueUrl. Field names are the API's, so the inputs read like the SDK's.
 */

import { callRecorder, type RecordScope } from '../../adapters/aws-calls.ts';
import { endpointFor, JsonRpcClient, type JsonRpcOptions, regionFrom } from './json-rpc.ts';
import type { CredentialSource } from './signer.ts';

export interface SqsMessage {
  MessageId?: string;
  ReceiptHandle?: string;
  Body?: string;
  Attributes?: Record<string, string>;
}

export interface ReceiveInput {
  QueueUrl: string;
  MaxNumberOfMessages: number;
  WaitTimeSeconds: number;
  VisibilityTimeout: number;
  MessageSystemAttributeNames: string[];
}

export interface SendInput {
  QueueUrl: string;
  MessageBody: string;
  MessageGroupId: string;
  MessageDeduplicationId: string;
  MessageAttributes?: Record<string, { DataType: string; StringValue: string }>;
}

/** The queue port the agent's consumer uses (a fake in unit tests). */
export interface AgentQueueClient {
  receiveMessage(input: ReceiveInput, signal?: AbortSignal): Promise<SqsMessage[]>;
  deleteMessage(input: { QueueUrl: string; ReceiptHandle: string }): Promise<void>;
  changeMessageVisibility(input: {
    QueueUrl: string;
    ReceiptHandle: string;
    VisibilityTimeout: number;
  }): Promise<void>;
  sendMessage(input: SendInput): Promise<string | null>;
  /** null when the queue does not exist. */
  getQueueUrl(queueName: string): Promise<string | null>;
}

export interface LiteClientOptions {
  endpoint?: string;
  region?: string;
  credentials?: CredentialSource;
  requestTimeoutMs?: number;
  maxAttempts?: number;
  /** Record each call as this deployable's when SC_RECORD_AWS_CALLS is set (adapters/aws-calls.ts). */
  record?: RecordScope;
}

export function rpcOptions(
  id: 'SQS' | 'DYNAMODB',
  service: string,
  targetPrefix: string,
  opts: LiteClientOptions,
  env: NodeJS.ProcessEnv,
): JsonRpcOptions {
  const region = opts.region ?? regionFrom(env);
  return {
    service,
    targetPrefix,
    region,
    endpoint: opts.endpoint ?? endpointFor(id, service, region, env),
    ...(opts.credentials === undefined ? {} : { credentials: opts.credentials }),
    ...(opts.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: opts.requestTimeoutMs }),
    ...(opts.maxAttempts === undefined ? {} : { maxAttempts: opts.maxAttempts }),
    record: callRecorder(opts.record, env),
  };
}

export class LiteSqs implements AgentQueueClient {
  private readonly rpc: JsonRpcClient;

  /** HTTP bytes sent and received (what a host outside AWS exchanges with the service). */
  get httpBytes(): { readonly sent: number; readonly received: number } {
    return this.rpc.bytes;
  }

  constructor(opts: LiteClientOptions = {}, env: NodeJS.ProcessEnv = process.env) {
    this.rpc = new JsonRpcClient(rpcOptions('SQS', 'sqs', 'AmazonSQS', opts, env));
  }

  async receiveMessage(input: ReceiveInput, signal?: AbortSignal): Promise<SqsMessage[]> {
    const out = await this.rpc.call<{ Messages?: SqsMessage[] }>('ReceiveMessage', input, signal);
    return out.Messages ?? [];
  }

  async deleteMessage(input: { QueueUrl: string; ReceiptHandle: string }): Promise<void> {
    await this.rpc.call('DeleteMessage', input);
  }

  async changeMessageVisibility(input: {
    QueueUrl: string;
    ReceiptHandle: string;
    VisibilityTimeout: number;
  }): Promise<void> {
    await this.rpc.call('ChangeMessageVisibility', input);
  }

  async sendMessage(input: SendInput): Promise<string | null> {
    const out = await this.rpc.call<{ MessageId?: string }>('SendMessage', input);
    return out.MessageId ?? null;
  }

  async getQueueUrl(queueName: string): Promise<string | null> {
    try {
      const out = await this.rpc.call<{ QueueUrl?: string }>('GetQueueUrl', { QueueName: queueName });
      return out.QueueUrl ?? null;
    } catch (err) {
      if (err instanceof Error && /QueueDoesNotExist|NonExistentQueue/.test(err.name)) return null;
      throw err;
    }
  }

  destroy(): void {
    this.rpc.destroy();
  }
}
