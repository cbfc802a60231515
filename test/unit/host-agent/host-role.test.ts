/**
 * The agent's per-host identity (host-agent/iam/host-role.json), proven with an IAM policy
 * evaluator against every call the agent made in the test runs (test/fixtures/aws-calls.jsonl):
 * each is allowed for its own host, each is denied for another host's queue and partition, and
 * the role grants nothing the agent never calls.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ph } from '../../../adapters/aws-calls.ts';
import { hostQueueNames } from '../../../core/contracts/order-queue.ts';
import { ROOT } from '../../../scripts/package.ts';
import { readFixture } from '../../support/aws-call-record.ts';
import { type CfnTemplate, concrete, decide, rolePolicies, unusedGrants } from '../../support/iam.ts';

const template = JSON.parse(readFileSync(join(ROOT, 'host-agent/iam/host-role.json'), 'utf8')) as CfnTemplate;
const STACK = 'serverless-containers-prod';
const policiesFor = (host: string) =>
  rolePolicies(template, 'HostRole', { Stack: STACK, HostName: host, QueueHostName: host });
const agentCalls = readFixture().filter((c) => c.deployable === 'host-agent');
const names = (host: string, other: string) => ({
  Table: `${STACK}-state`,
  QueuePrefix: `${STACK}-`,
  Host: host,
  OtherHost: other,
});

describe("the host agent's per-host role", () => {
  it('covers the calls the agent makes: its queue, its dead-letter queue, its partition', () => {
    const actions = new Set(agentCalls.map((c) => c.action));
    for (const a of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'dynamodb:GetItem', 'dynamodb:PutItem'])
      expect(actions).toContain(a);
    // Every recorded DynamoDB call names its partition (dynamodb:LeadingKeys is evaluated).
    for (const c of agentCalls.filter((x) => x.action.startsWith('dynamodb:')))
      expect(c.leadingKeys).toEqual([`HOST#${ph('Host')}`]);
  });

  it('allows every call the agent made, on its own host', async () => {
    const denied: string[] = [];
    for (const c of agentCalls.map((x) => concrete(x, names('h1', 'h2')))) {
      const d = await decide(policiesFor('h1'), c);
      if (d !== 'Allowed') denied.push(`${d}: ${c.from}`);
    }
    expect(denied).toEqual([]);
  });

  it('takes a dotted host name: its queues under the name hostQueueNames gives them, its partition under its own', async () => {
    const host = 'node1.lab';
    const prefix = `${STACK}-`;
    const queueHost = hostQueueNames(host, prefix).queue.slice(prefix.length, -'.fifo'.length);
    expect(queueHost).toBe('node1_lab');
    // The parameter's description is what an operator follows to fill it in.
    const described = (template as unknown as { Parameters: Record<string, { Description: string }> })
      .Parameters.QueueHostName?.Description;
    expect(described).toContain(`${host} → ${queueHost}`);
    const policies = rolePolicies(template, 'HostRole', {
      Stack: STACK,
      HostName: host,
      QueueHostName: queueHost,
    });
    const denied: string[] = [];
    for (const x of agentCalls) {
      const c = concrete(x, { ...names(host, 'h2'), Host: x.action.startsWith('sqs:') ? queueHost : host });
      const d = await decide(policies, c);
      if (d !== 'Allowed') denied.push(`${d}: ${c.action} ${c.resource}`);
    }
    expect(denied).toEqual([]);
  });

  it("denies each of those calls on another host's queue and partition", async () => {
    const allowed: string[] = [];
    // The same calls as host h2 makes them, tried with h1's role.
    for (const c of agentCalls.map((x) => concrete(x, names('h2', 'h1')))) {
      const d = await decide(policiesFor('h1'), c);
      if (d !== 'ImplicitlyDenied') allowed.push(`${d}: ${c.action} ${c.resource} ${c.leadingKeys ?? ''}`);
    }
    expect(allowed).toEqual([]);
  });

  it('denies a query that names its own partition and another one', async () => {
    const c = concrete(
      {
        deployable: 'host-agent',
        action: 'dynamodb:BatchGetItem',
        resource: `arn:${ph('Partition')}:dynamodb:${ph('Region')}:${ph('Account')}:table/${ph('Table')}`,
        leadingKeys: [`HOST#${ph('Host')}`, `HOST#${ph('OtherHost')}`],
      },
      names('h1', 'h2'),
    );
    expect(await decide(policiesFor('h1'), c)).toBe('ImplicitlyDenied');
  });

  it('grants nothing the agent never calls', async () => {
    const calls = agentCalls.map((x) => concrete(x, names('h1', 'h2')));
    expect(await unusedGrants(policiesFor('h1'), calls)).toEqual([]);
  });
});
