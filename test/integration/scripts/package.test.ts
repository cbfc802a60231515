import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { tableDefinition } from '../../../adapters/dynamodb/table.ts';
import { missingHandlerFiles, ROOT, TEMPLATE_FILE } from '../../../scripts/package.ts';

type Json = Record<string, unknown>;
interface Resource {
  Type: string;
  Properties: Json;
}
interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

const run = promisify(execFile);
const FUNCTIONS = {
  ControlTick: 'functions/handlers/control-tick.handler',
  Api: 'functions/handlers/api.handler',
  Sanity: 'functions/handlers/sanity.handler',
  Snapshoter: 'functions/handlers/snapshoter.handler',
  Rebalancer: 'functions/handlers/rebalancer.handler',
} as const;
const SCHEDULED = ['ControlTick', 'Sanity', 'Snapshoter', 'Rebalancer'] as const;

const actions = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const resources = (s: Statement): unknown[] => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);
const text = (v: unknown): string => JSON.stringify(v);

describe('npm run package (serverless.yml → CloudFormation)', () => {
  const out = mkdtempSync(join(tmpdir(), 'sc-package-'));
  let template: { Resources: Record<string, Resource> };
  const ofType = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);
  const resource = (id: string): Resource => {
    const r = template.Resources[id];
    if (r === undefined) throw new Error(`no resource ${id}`);
    return r;
  };
  const statementsOf = (roleId: string): Statement[] =>
    (resource(roleId).Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[]).flatMap(
      (p) => p.PolicyDocument.Statement,
    );

  beforeAll(async () => {
    const missing = missingHandlerFiles(ROOT);
    if (missing.length > 0) {
      throw new Error(`cannot package: missing handler files ${missing.map((m) => m.file).join(', ')}`);
    }
    // The defaults of serverless.yml, whatever the caller's environment says.
    const { SC_TABLE: _t, SC_QUEUE_PREFIX: _q, ...env } = process.env;
    await run('npm', ['run', 'package', '--', '--out', out], { cwd: ROOT, env, timeout: 180_000 });
    template = JSON.parse(readFileSync(join(out, TEMPLATE_FILE), 'utf8'));
  }, 180_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('deploys every function on nodejs24.x from its handler file, each with its own role', () => {
    const roles = new Set<string>();
    for (const [name, handler] of Object.entries(FUNCTIONS)) {
      const fn = resource(`${name}LambdaFunction`).Properties;
      expect(fn).toMatchObject({ Runtime: 'nodejs24.x', Handler: handler });
      expect(fn.Role).toEqual({ 'Fn::GetAtt': [`${name}Role`, 'Arn'] });
      roles.add(text(fn.Role));
    }
    expect(roles.size).toBe(Object.keys(FUNCTIONS).length);
    expect(ofType('AWS::Lambda::Function')).toHaveLength(Object.keys(FUNCTIONS).length);
    expect(resource('ControlTickLambdaFunction').Properties.Timeout).toBe(70);
  });

  it('gives the control tick every variable its env schema requires, under the platform names', () => {
    const vars = (resource('ControlTickLambdaFunction').Properties.Environment as { Variables: Json })
      .Variables;
    expect(vars).toMatchObject({
      SC_TABLE: 'sc-state',
      SC_QUEUE_PREFIX: 'sc-',
      SC_METRICS_BACKEND: 'opentsdb',
      SC_METRICS_URL: expect.stringMatching(/^https?:\/\//),
      SC_OPENTSDB_URL: expect.stringMatching(/^https?:\/\//),
    });
    expect(Object.keys(vars)).not.toContain('SC_TABLE_NAME');
  });

  it('gives the snapshoter and the ReBalancer the metrics settings they require', () => {
    const env = (id: string) => (resource(id).Properties.Environment as { Variables: Json }).Variables;
    expect(env('SnapshoterLambdaFunction')).toMatchObject({
      SC_TABLE: 'sc-state',
      SC_METRICS_URL: expect.stringMatching(/^https?:\/\//),
      SC_OPENTSDB_URL: expect.stringMatching(/^https?:\/\//),
    });
    expect(env('RebalancerLambdaFunction')).toMatchObject({
      SC_TABLE: 'sc-state',
      SC_METRICS_URL: expect.stringMatching(/^https?:\/\//),
    });
  });

  it('schedules the control tick and the sweeps at rate(1 minute)', () => {
    const rules = ofType('AWS::Events::Rule').map(([, r]) => r.Properties);
    for (const name of SCHEDULED) {
      const rule = rules.find((p) => text(p.Targets).includes(`${name}LambdaFunction`));
      expect(rule).toMatchObject({ ScheduleExpression: 'rate(1 minute)', State: 'ENABLED' });
    }
    expect(rules).toHaveLength(SCHEDULED.length);
  });

  it('serves the API as ANY /{proxy+} behind IAM authorization', () => {
    const routes = ofType('AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties);
    expect(routes).toEqual([
      expect.objectContaining({ RouteKey: 'ANY /{proxy+}', AuthorizationType: 'AWS_IAM' }),
    ]);
  });

  it('creates the state table with exactly the keys and index of adapters/dynamodb/table.ts', () => {
    const table = resource('StateTable').Properties;
    const def = tableDefinition('x');
    expect(table.KeySchema).toEqual(def.KeySchema);
    expect(table.AttributeDefinitions).toEqual(def.AttributeDefinitions);
    expect(table.GlobalSecondaryIndexes).toEqual(def.GlobalSecondaryIndexes);
    expect(table).toMatchObject({ TableName: 'sc-state', BillingMode: 'PAY_PER_REQUEST' });
  });

  it('creates the static failures queue that scheduled invocations report to', () => {
    expect(resource('ScheduleFailuresQueue').Properties).toMatchObject({ QueueName: 'sc-schedule-failures' });
    for (const name of SCHEDULED) {
      expect(text(resource(`${name}LambdaEvConf`).Properties)).toContain('ScheduleFailuresQueue');
    }
  });

  it('scopes every DynamoDB and SQS permission to the table, its index or the prefixed queues', () => {
    for (const [roleId] of ofType('AWS::IAM::Role')) {
      for (const s of statementsOf(roleId)) {
        expect(resources(s)).not.toContain('*');
        const services = new Set(actions(s).map((a) => a.split(':')[0]));
        expect(services.size).toBe(1);
        for (const r of resources(s)) {
          const where = text(r);
          if (services.has('dynamodb')) expect(where).toMatch(/StateTable/);
          if (services.has('sqs'))
            expect(where).toMatch(/ScheduleFailuresQueue|ControlClockQueue|:sqs:.*:sc-\*\.fifo"/);
          if (services.has('logs')) expect(where).toMatch(/log-group:\/aws\/lambda\/serverless-containers-/);
        }
        expect(actions(s).some((a) => a.endsWith(':*') || a === '*')).toBe(false);
      }
    }
  });

  it('gives each function only the access its job needs', () => {
    const allowed = (roleId: string, service: string) =>
      statementsOf(roleId)
        .flatMap(actions)
        .filter((a) => a.startsWith(`${service}:`))
        .sort();
    expect(allowed('SnapshoterRole', 'dynamodb')).toEqual([
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    expect(allowed('SnapshoterRole', 'sqs')).toEqual(['sqs:SendMessage']); // failures queue only
    expect(allowed('ControlTickRole', 'sqs')).not.toContain('sqs:CreateQueue');
    expect(allowed('ApiRole', 'sqs')).toContain('sqs:CreateQueue'); // registers hosts and their queues
    const logs = statementsOf('ApiRole').find((s) => s.Sid === 'Logs');
    expect(text(logs?.Resource)).toContain('serverless-containers-dev-api:*');
  });
});
