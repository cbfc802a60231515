/**
 * Records the AWS calls a deployable makes (IAM action + resource ARN), so the packaged
 * template's policies can be proven against them (test/integration/iam/policies.test.ts).
 * Off unless SC_RECORD_AWS_CALLS names a file (the test runs set it); each call then appends
 * one JSON line. ARNs are written as templates: `${Partition}`, `${Region}`, `${Account}`,
 * `${Table}`, `${QueuePrefix}`, `${Host}` (the recording deployable's own host, or any host for
 * the functions), `${OtherHost}`, and the names of the stack's own queues (`${ClockQueue}`),
 * so that the same run on random test names records the same set.
 */
import { appendFileSync } from 'node:fs';

export const RECORD_ENV = 'SC_RECORD_AWS_CALLS';

/** Who is calling, and the names its configuration gives the stack's resources. */
export interface RecordScope {
  deployable: string;
  table?: string;
  queuePrefix?: string;
  /** The agent's own host (its calls must stay inside its queue and partition). */
  host?: string;
  /** Queue URL or name → placeholder, e.g. the clock queue's URL → 'ClockQueue'. */
  queues?: Record<string, string>;
}

export interface AwsCall {
  deployable: string;
  /** IAM action, e.g. 'dynamodb:BatchGetItem'. */
  action: string;
  /** ARN template (see the module comment). */
  resource: string;
  /** Partition key values the call touches (the agent only: dynamodb:LeadingKeys). */
  leadingKeys?: string[];
}

/** SDK operations whose IAM action has another name. */
const IAM_ACTION: Record<string, string> = {
  SendMessageBatch: 'SendMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
  // lib-dynamodb's command names
  Get: 'GetItem',
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  BatchGet: 'BatchGetItem',
  BatchWrite: 'BatchWriteItem',
  TransactGet: 'TransactGetItems',
  TransactWrite: 'TransactWriteItems',
};

type Input = Record<string, unknown>;

/** `${Name}`: a placeholder the policy test replaces by a concrete name. */
export function ph(name: string): string {
  return `\${${name}}`;
}

function stringValue(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  const s = (v as { S?: unknown } | null)?.S;
  return typeof s === 'string' ? s : undefined;
}

function pkOf(key: unknown): string | undefined {
  return stringValue((key as { pk?: unknown } | null)?.pk);
}

function queryPk(input: Input): string | undefined {
  const expr = String(input.KeyConditionExpression ?? '');
  const m = /(?:^|\s|\()pk\s*=\s*(:[A-Za-z0-9_]+)/.exec(expr);
  if (m === null) return undefined;
  return stringValue((input.ExpressionAttributeValues as Input | undefined)?.[m[1] as string]);
}

function tableArn(scope: RecordScope, table: string, index?: unknown): string {
  const t = table === scope.table ? ph('Table') : table;
  const i = typeof index === 'string' ? `/index/${index}` : '';
  return `arn:\${Partition}:dynamodb:\${Region}:\${Account}:table/${t}${i}`;
}

function hostPart(scope: RecordScope, safeHost: string): string {
  if (scope.host === undefined) return ph('Host');
  return safeHost === scope.host.replace(/[^A-Za-z0-9_-]/g, '-') ? ph('Host') : ph('OtherHost');
}

function queueArn(scope: RecordScope, urlOrName: string): string {
  const name = urlOrName.slice(urlOrName.lastIndexOf('/') + 1);
  const named = scope.queues?.[urlOrName] ?? scope.queues?.[name];
  let n = named === undefined ? name : `\${${named}}`;
  const prefix = scope.queuePrefix;
  if (named === undefined && prefix !== undefined && name.startsWith(prefix)) {
    const m = /^(.*?)(-dlq)?\.fifo$/.exec(name.slice(prefix.length));
    if (m !== null) n = `\${QueuePrefix}${hostPart(scope, m[1] as string)}${m[2] ?? ''}.fifo`;
  }
  return `arn:\${Partition}:sqs:\${Region}:\${Account}:${n}`;
}

function leadingKey(scope: RecordScope, pk: string | undefined): string | undefined {
  if (pk === undefined) return undefined;
  if (!pk.startsWith('HOST#')) return pk;
  return `HOST#${hostPart(scope, pk.slice('HOST#'.length).replace(/[^A-Za-z0-9_-]/g, '-'))}`;
}

function dynamoCalls(scope: RecordScope, op: string, input: Input): Omit<AwsCall, 'deployable'>[] {
  const withKeys = (c: { action: string; resource: string }, pks: (string | undefined)[]) => {
    if (scope.host === undefined) return c;
    const keys = [...new Set(pks.map((p) => leadingKey(scope, p)).filter((p) => p !== undefined))];
    return keys.length === 0 ? c : { ...c, leadingKeys: keys.sort() };
  };
  if (op === 'BatchGetItem' || op === 'BatchWriteItem') {
    const items = (input.RequestItems ?? {}) as Record<string, unknown>;
    return Object.entries(items).map(([table, req]) => {
      const pks =
        op === 'BatchGetItem'
          ? ((req as { Keys?: unknown[] }).Keys ?? []).map(pkOf)
          : (req as Input[]).map((w) =>
              pkOf((w.PutRequest as Input | undefined)?.Item ?? (w.DeleteRequest as Input | undefined)?.Key),
            );
      return withKeys({ action: `dynamodb:${op}`, resource: tableArn(scope, table) }, pks);
    });
  }
  if (op === 'TransactWriteItems' || op === 'TransactGetItems') {
    const parts: Record<string, string> = {
      Put: 'PutItem',
      Update: 'UpdateItem',
      Delete: 'DeleteItem',
      ConditionCheck: 'ConditionCheckItem',
      Get: 'GetItem',
    };
    return ((input.TransactItems ?? []) as Input[]).flatMap((ti) =>
      Object.entries(ti).map(([kind, body]) => {
        const b = body as Input;
        return withKeys(
          { action: `dynamodb:${parts[kind] ?? kind}`, resource: tableArn(scope, String(b.TableName)) },
          [pkOf(b.Key ?? b.Item)],
        );
      }),
    );
  }
  const table = typeof input.TableName === 'string' ? input.TableName : '*';
  const pk = op === 'Query' ? queryPk(input) : pkOf(input.Key ?? input.Item);
  return [
    withKeys(
      { action: `dynamodb:${op}`, resource: tableArn(scope, table, input.IndexName) },
      op === 'Query' && input.IndexName !== undefined ? [] : [pk],
    ),
  ];
}

/** The IAM view of one call: its action(s) and resource ARN template(s). */
export function callsOf(
  scope: RecordScope,
  service: 'dynamodb' | 'sqs',
  operation: string,
  input: Input,
): AwsCall[] {
  const op = IAM_ACTION[operation] ?? operation;
  const calls =
    service === 'dynamodb'
      ? dynamoCalls(scope, op, input)
      : [
          {
            action: `sqs:${op}`,
            resource:
              typeof input.QueueUrl === 'string'
                ? queueArn(scope, input.QueueUrl)
                : typeof input.QueueName === 'string'
                  ? queueArn(scope, input.QueueName)
                  : '*',
          },
        ];
  return calls.map((c) => ({ deployable: scope.deployable, ...c }));
}

export type CallRecorder = (service: 'dynamodb' | 'sqs', operation: string, input: Input) => void;

/** Appends each call's IAM view to $SC_RECORD_AWS_CALLS; null (nothing recorded) when it is unset. */
export function callRecorder(
  scope: RecordScope | undefined,
  env: NodeJS.ProcessEnv = process.env,
): CallRecorder | null {
  const file = env[RECORD_ENV];
  if (!file || scope === undefined) return null;
  return (service, operation, input) => {
    const lines = callsOf(scope, service, operation, input).map((c) => `${JSON.stringify(c)}\n`);
    // One append per call (O_APPEND, well under PIPE_BUF): parallel test workers do not interleave.
    appendFileSync(file, lines.join(''));
  };
}

/** The scope of a function's clients, from its parsed environment. */
export function functionScope(
  deployable: string,
  env: { SC_TABLE: string; SC_QUEUE_PREFIX: string; SC_CLOCK_QUEUE_URL?: string | undefined },
): RecordScope {
  return {
    deployable,
    table: env.SC_TABLE,
    queuePrefix: env.SC_QUEUE_PREFIX,
    ...(env.SC_CLOCK_QUEUE_URL === undefined ? {} : { queues: { [env.SC_CLOCK_QUEUE_URL]: 'ClockQueue' } }),
  };
}
