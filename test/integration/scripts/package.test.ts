import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateTableCommand, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createDynamoDocumentClient, createSqsClient } from '../../../adapters/aws.ts';
import { tableDefinition } from '../../../adapters/dynamodb/table.ts';
import { TableClient } from '../../../adapters/dynamodb/table-client.ts';
import { keys } from '../../../core/contracts/table-layout.ts';
import { missingHandlerFiles, ROOT, TEMPLATE_FILE } from '../../../scripts/package.ts';
import { readFixture } from '../../support/aws-call-record.ts';
import { dynamoEndpoint, sqsEndpoint, victoriaOpentsdbUrl, victoriaPromUrl } from '../../support/env.ts';
import {
  type CfnTemplate,
  type ConcreteCall,
  concrete,
  decide,
  type Policy,
  resolve,
  rolePolicies,
  unusedGrants,
} from '../../support/iam.ts';

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

/** `npm run package -- --stage <stage>` into a fresh directory; the parsed template. */
async function packageStage(
  stage: string,
  params: Record<string, string>,
): Promise<{ dir: string; template: CfnTemplate }> {
  const dir = mkdtempSync(join(tmpdir(), `sc-package-${stage}-`));
  const args = ['run', 'package', '--', '--out', dir, '--stage', stage];
  for (const [k, v] of Object.entries(params)) args.push('--param', `${k}=${v}`);
  // Its own build folder: other tests bundle at the same time.
  const build = `.esbuild-pkg-${stage}-${process.pid}`;
  try {
    await run('npm', args, { cwd: ROOT, env: { ...process.env, SC_BUILD_DIR: build }, timeout: 240_000 });
  } finally {
    rmSync(join(ROOT, build), { recursive: true, force: true });
  }
  return { dir, template: JSON.parse(readFileSync(join(dir, TEMPLATE_FILE), 'utf8')) };
}

/** Every physical name the template gives a resource (…Name properties that are plain strings). */
function physicalNames(t: CfnTemplate): string[] {
  const out: string[] = [];
  for (const r of Object.values(t.Resources)) {
    for (const [k, v] of Object.entries(r.Properties ?? {})) {
      // Names scoped to something else (the API's stage, a metric, a key) are not physical names.
      const scoped = ['StageName', 'MetricName', 'AttributeName', 'IndexName', 'PolicyName'];
      if (/Name$/.test(k) && !scoped.includes(k) && typeof v === 'string') out.push(v);
    }
  }
  return out;
}

const lambdaId = (deployable: string) => `${deployable[0]?.toUpperCase()}${deployable.slice(1)}`;
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
  // Stage a reads usage from the test's VictoriaMetrics, so its bundles run against the emulators.
  let a: { dir: string; template: CfnTemplate };
  let b: { dir: string; template: CfnTemplate };
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
    // One at a time: serverless-esbuild builds in the service's .esbuild/ directory.
    a = await packageStage('a', {
      metricsUrl: victoriaPromUrl(),
      metricsBackend: 'prometheus',
      opentsdbUrl: victoriaOpentsdbUrl(),
    });
    // Stage b is sized for a sharded fleet (docs/shards.md "What one shard's Lambda needs").
    b = await packageStage('b', {
      metricsUrl: 'https://tsd.example.net:4242',
      controlTickMemory: '1769',
      clockConcurrency: '5',
    });
    template = a.template as typeof template;
  }, 480_000);
  afterAll(() => {
    for (const p of [a, b]) if (p !== undefined) rmSync(p.dir, { recursive: true, force: true });
  });

  it('refuses to package without a metrics URL, naming the parameter', async () => {
    const out = mkdtempSync(join(tmpdir(), 'sc-package-none-'));
    try {
      const failed = await run('npm', ['run', 'package', '--', '--out', out, '--stage', 'c'], {
        cwd: ROOT,
        timeout: 120_000,
      }).then(
        () => null,
        (e: { stdout: string; stderr: string }) => `${e.stdout}${e.stderr}`,
      );
      expect(failed).toMatch(/custom\.metricsUrl.*param/s);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);

  it('deploys every function on nodejs24.x from its handler file, each with its own role', () => {
    const roles = new Set<string>();
    for (const [name, handler] of Object.entries(FUNCTIONS)) {
      const fn = resource(`${name}LambdaFunction`).Properties;
      expect(fn).toMatchObject({ Runtime: 'nodejs24.x', Handler: handler });
      expect(fn.Role).toEqual({ 'Fn::GetAtt': [`${name}Role`, 'Arn'] });
      expect(fn.ReservedConcurrentExecutions).toBeUndefined();
      roles.add(text(fn.Role));
    }
    expect(roles.size).toBe(Object.keys(FUNCTIONS).length);
    expect(ofType('AWS::Lambda::Function')).toHaveLength(Object.keys(FUNCTIONS).length);
    expect(resource('ControlTickLambdaFunction').Properties.Timeout).toBe(70);
  });

  it('sizes the control tick from stage parameters: 512 MiB and 2 clock ticks at once unless given', () => {
    const sizing = (t: CfnTemplate) => {
      const rs = t.Resources;
      const mapping = Object.values(rs).find(
        (r) =>
          r.Type === 'AWS::Lambda::EventSourceMapping' &&
          text(r.Properties.FunctionName).includes('ControlTick'),
      );
      return {
        memory: rs.ControlTickLambdaFunction?.Properties.MemorySize,
        concurrency: (mapping?.Properties.ScalingConfig as Json | undefined)?.MaximumConcurrency,
      };
    };
    expect(sizing(a.template)).toEqual({ memory: 512, concurrency: 2 });
    // --param controlTickMemory=1769 --param clockConcurrency=5: one vCPU a shard, 4 shards + 1
    expect(sizing(b.template)).toEqual({ memory: 1769, concurrency: 5 });
  });

  it('gives the control tick every variable its env schema requires, under the stage names', () => {
    const vars = (resource('ControlTickLambdaFunction').Properties.Environment as { Variables: Json })
      .Variables;
    expect(vars).toMatchObject({
      SC_TABLE: 'serverless-containers-a-state',
      SC_QUEUE_PREFIX: 'serverless-containers-a-',
      SC_METRICS_BACKEND: 'prometheus',
      SC_METRICS_URL: victoriaPromUrl(),
      SC_OPENTSDB_URL: victoriaOpentsdbUrl(),
    });
    expect(Object.keys(vars)).not.toContain('SC_TABLE_NAME');
    // The put URL defaults to the metrics URL.
    const varsB = (
      (b.template.Resources.ControlTickLambdaFunction as Resource).Properties.Environment as {
        Variables: Json;
      }
    ).Variables;
    expect(varsB).toMatchObject({
      SC_METRICS_URL: 'https://tsd.example.net:4242',
      SC_OPENTSDB_URL: 'https://tsd.example.net:4242',
      SC_METRICS_BACKEND: 'opentsdb',
    });
  });

  it('gives the snapshoter and the ReBalancer the metrics settings they require', () => {
    const env = (id: string) => (resource(id).Properties.Environment as { Variables: Json }).Variables;
    expect(env('SnapshoterLambdaFunction')).toMatchObject({
      SC_TABLE: 'serverless-containers-a-state',
      SC_METRICS_URL: expect.stringMatching(/^https?:\/\//),
      SC_OPENTSDB_URL: expect.stringMatching(/^https?:\/\//),
    });
    expect(env('RebalancerLambdaFunction')).toMatchObject({
      SC_TABLE: 'serverless-containers-a-state',
      SC_METRICS_URL: expect.stringMatching(/^https?:\/\//),
    });
  });

  it('makes a stage a stack: two stages share no physical name', () => {
    const namesA = physicalNames(a.template);
    const namesB = new Set(physicalNames(b.template));
    expect(namesA.length).toBeGreaterThanOrEqual(8);
    for (const n of namesA) {
      expect(n).toMatch(/serverless-containers-a(-|$)/);
      expect(namesB.has(n)).toBe(false);
    }
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

  it('creates the state table with the keys of adapters/dynamodb/table.ts, PITR and deletion protection', () => {
    const table = resource('StateTable').Properties;
    const def = tableDefinition('x');
    expect(table.KeySchema).toEqual(def.KeySchema);
    expect(table.AttributeDefinitions).toEqual(def.AttributeDefinitions);
    expect(table.GlobalSecondaryIndexes).toEqual(def.GlobalSecondaryIndexes);
    expect(table).toMatchObject({
      TableName: 'serverless-containers-a-state',
      BillingMode: 'PAY_PER_REQUEST',
      DeletionProtectionEnabled: true,
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('keeps clock messages longer than any delay plus retries, and hidden longer than a tick runs', () => {
    const q = resource('ControlClockQueue').Properties as {
      MessageRetentionPeriod: number;
      VisibilityTimeout: number;
    };
    const timeout = resource('ControlTickLambdaFunction').Properties.Timeout as number;
    expect(q.VisibilityTimeout).toBeGreaterThanOrEqual(6 * timeout);
    // 900 s = the longest DelaySeconds SQS takes; then at least three receive attempts.
    expect(q.MessageRetentionPeriod).toBeGreaterThanOrEqual(900 + 3 * q.VisibilityTimeout);
  });

  it('creates the static failures queue that scheduled invocations report to', () => {
    expect(resource('ScheduleFailuresQueue').Properties).toMatchObject({
      QueueName: 'serverless-containers-a-schedule-failures',
    });
    for (const name of SCHEDULED) {
      expect(text(resource(`${name}LambdaEvConf`).Properties)).toContain('ScheduleFailuresQueue');
    }
  });

  it('scopes every DynamoDB and SQS permission to the table, its index or the stage queues', () => {
    for (const [roleId] of ofType('AWS::IAM::Role')) {
      for (const s of statementsOf(roleId)) {
        const services = new Set(actions(s).map((x) => x.split(':')[0]));
        expect(services.size).toBe(1);
        if (!services.has('xray')) expect(resources(s)).not.toContain('*');
        for (const r of resources(s)) {
          const where = text(r);
          if (services.has('dynamodb')) expect(where).toMatch(/StateTable/);
          if (services.has('sqs'))
            expect(where).toMatch(
              /ScheduleFailuresQueue|ControlClockQueue|:sqs:.*:serverless-containers-a-\*\.fifo"/,
            );
          if (services.has('logs'))
            expect(where).toMatch(/log-group:\/aws\/lambda\/serverless-containers-a-/);
        }
        expect(actions(s).some((x) => x.endsWith(':*') || x === '*')).toBe(false);
      }
    }
  });

  it('alarms on failed, stalled and late ticks, degraded agents, failed schedules and function errors', () => {
    const alarms = Object.fromEntries(ofType('AWS::CloudWatch::Alarm').map(([id, r]) => [id, r.Properties]));
    const ns = 'serverless-containers-a';
    const onMetric = (metric: string, service: string) =>
      Object.values(alarms).find(
        (p) =>
          p.MetricName === metric &&
          p.Namespace === ns &&
          text(p.Dimensions).includes(`"Value":"${service}"`),
      );
    // The names functions/handlers/middleware.ts emits, under the namespace the functions are given.
    expect(resource('ControlTickLambdaFunction').Properties.Environment).toMatchObject({
      Variables: { POWERTOOLS_METRICS_NAMESPACE: ns },
    });
    expect(onMetric('FailedTicks', 'controlTick')).toMatchObject({
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(onMetric('Ticks', 'controlTick')).toMatchObject({
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
    expect(onMetric('TickAgeMs', 'controlTick')).toBeDefined();
    expect(onMetric('AgentsDegraded', 'sanity')).toBeDefined();
    // the hosts' dead-letter queues are not in the stack: the sweep's gauge is what alarms
    expect(onMetric('OrdersDeadLettered', 'sanity')).toMatchObject({
      Statistic: 'Maximum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(text(alarms.ScheduleFailuresAlarm)).toContain('ScheduleFailuresQueue');
    for (const name of Object.keys(FUNCTIONS))
      expect(text(alarms.FunctionErrorsAlarm)).toContain(`${name}LambdaFunction`);
    for (const p of Object.values(alarms)) expect(String(p.AlarmName)).toMatch(/^serverless-containers-a-/);
  });

  it('draws a dashboard of the tick, its orders, the agents and every alarm', () => {
    const body = JSON.parse(String(resolve(a.template, resource('Dashboard').Properties.DashboardBody))) as {
      widgets: { properties: { metrics?: unknown[]; alarms?: string[] } }[];
    };
    const shown = text(body.widgets.map((w) => w.properties.metrics ?? []));
    for (const m of [
      'Ticks',
      'FailedTicks',
      'TickAgeMs',
      'Decisions',
      'OrdersSent',
      'AgentsDegraded',
      'OrdersDeadLettered',
    ])
      expect(shown).toContain(`"${m}"`);
    const alarms = body.widgets.flatMap((w) => w.properties.alarms ?? []);
    expect(alarms).toHaveLength(ofType('AWS::CloudWatch::Alarm').length);
  });

  it('traces every function (X-Ray active)', () => {
    for (const name of Object.keys(FUNCTIONS))
      expect(resource(`${name}LambdaFunction`).Properties.TracingConfig).toEqual({ Mode: 'Active' });
  });

  describe('IAM, proven against the calls the code makes (test/fixtures/aws-calls.jsonl)', () => {
    const recorded = readFixture();
    const DEPLOYABLES = ['controlTick', 'api', 'sanity', 'snapshoter', 'rebalancer'] as const;
    let names: Record<string, string>;
    const functionProps = (d: string) => resource(`${lambdaId(d)}LambdaFunction`).Properties;

    beforeAll(() => {
      const env = (resource('ControlTickLambdaFunction').Properties.Environment as { Variables: Json })
        .Variables;
      names = {
        Table: String(env.SC_TABLE),
        QueuePrefix: String(env.SC_QUEUE_PREFIX),
        ClockQueue: String(resource('ControlClockQueue').Properties.QueueName),
        Host: 'h1',
        OtherHost: 'h2',
      };
    });

    /** The function's recorded calls, and the calls the Lambda service makes with its role. */
    function callsOf(d: string): ConcreteCall[] {
      const t = a.template;
      const fnId = `${lambdaId(d)}LambdaFunction`;
      const own = recorded.filter((c) => c.deployable === d).map((c) => concrete(c, names));
      const platform: ConcreteCall[] = [];
      const logGroup = resolve(t, { 'Fn::GetAtt': [`${lambdaId(d)}LogGroup`, 'Arn'] }) as string;
      for (const action of ['logs:CreateLogStream', 'logs:PutLogEvents'])
        platform.push({
          action,
          resource: logGroup.replace(/:\*$/, ':log-stream:2026/12/07/[$LATEST]x'),
          from: 'Lambda runtime: logs',
        });
      for (const r of Object.values(t.Resources)) {
        if (r.Type === 'AWS::Lambda::EventSourceMapping' && text(r.Properties.FunctionName).includes(fnId)) {
          const arn = resolve(t, r.Properties.EventSourceArn) as string;
          for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'])
            platform.push({ action, resource: arn, from: 'Lambda event source mapping' });
        }
        if (r.Type === 'AWS::Lambda::EventInvokeConfig' && text(r.Properties.FunctionName).includes(fnId)) {
          const dest = (
            r.Properties.DestinationConfig as { OnFailure?: { Destination: unknown } } | undefined
          )?.OnFailure?.Destination;
          if (dest !== undefined)
            platform.push({
              action: 'sqs:SendMessage',
              resource: resolve(t, dest) as string,
              from: 'Lambda destination',
            });
        }
      }
      if ((functionProps(d).TracingConfig as { Mode?: string } | undefined)?.Mode === 'Active') {
        for (const action of ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'])
          platform.push({ action, resource: '*', from: 'Lambda tracing' });
      }
      return [...own, ...platform];
    }
    const policiesOf = (d: string): Policy[] => rolePolicies(a.template, `${lambdaId(d)}Role`);

    it('has recorded calls for every function', () => {
      for (const d of DEPLOYABLES)
        expect(recorded.filter((c) => c.deployable === d).length).toBeGreaterThan(0);
    });

    it.each(DEPLOYABLES)('allows every call %s makes', async (d) => {
      const denied: string[] = [];
      for (const c of callsOf(d)) {
        const decision = await decide(policiesOf(d), c);
        if (decision !== 'Allowed') denied.push(`${decision}: ${c.action} ${c.resource} (${c.from})`);
      }
      expect(denied).toEqual([]);
    });

    it.each(DEPLOYABLES)('grants %s nothing it never calls', async (d) => {
      expect(await unusedGrants(policiesOf(d), callsOf(d))).toEqual([]);
    });
  });

  describe('the packaged bundles, with the environment the template gives them, on the emulators', () => {
    const doc = () =>
      createDynamoDocumentClient({ endpoint: dynamoEndpoint('dynalite'), region: 'us-east-1' });
    const sqs = createSqsClient({ endpoint: sqsEndpoint(), region: 'us-east-1' });
    let unpacked: string;
    let clockQueueUrl: string;
    let tableName: string;

    beforeAll(async () => {
      unpacked = mkdtempSync(join(tmpdir(), 'sc-bundles-'));
      for (const fn of ['controlTick', 'api', 'sanity', 'snapshoter', 'rebalancer']) {
        mkdirSync(join(unpacked, fn));
        await run('unzip', ['-q', join(a.dir, `${fn}.zip`), '-d', join(unpacked, fn)]);
      }
      tableName = String(resource('StateTable').Properties.TableName);
      const d = doc();
      await d.send(new DeleteTableCommand({ TableName: tableName })).catch(() => undefined);
      await d.send(new CreateTableCommand(tableDefinition(tableName)));
      d.destroy();
      clockQueueUrl = (
        await sqs.send(
          new CreateQueueCommand({ QueueName: String(resource('ControlClockQueue').Properties.QueueName) }),
        )
      ).QueueUrl as string;
    }, 60_000);
    afterAll(async () => {
      const d = doc();
      await d.send(new DeleteTableCommand({ TableName: tableName })).catch(() => undefined);
      d.destroy();
      sqs.destroy();
      rmSync(unpacked, { recursive: true, force: true });
    });

    /**
     * Invokes `fn`'s packaged handler in a fresh process with the template's environment for it,
     * once per event (test/support/invoke-bundle.mjs), and returns the results.
     */
    async function invokeAll(fn: string, events: unknown[], timeoutMs = 10_000): Promise<Json[]> {
      const props = resource(`${lambdaId(fn)}LambdaFunction`).Properties;
      const vars = (props.Environment as { Variables: Json }).Variables;
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(vars)) {
        env[k] = k === 'SC_CLOCK_QUEUE_URL' ? clockQueueUrl : String(resolve(a.template, v));
      }
      const [file, name] = String(props.Handler).split(/\.(?=[^.]+$)/) as [string, string];
      const { stdout } = await run(
        process.execPath,
        [
          join(ROOT, 'test/support/invoke-bundle.mjs'),
          join(unpacked, fn, `${file}.mjs`),
          name,
          JSON.stringify(events),
          String(timeoutMs),
        ],
        {
          cwd: join(unpacked, fn),
          timeout: events.length * (timeoutMs + 100_000),
          env: {
            PATH: process.env.PATH ?? '',
            ...env,
            AWS_REGION: 'us-east-1',
            AWS_ACCESS_KEY_ID: 'local',
            AWS_SECRET_ACCESS_KEY: 'local',
            AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint('dynalite'),
            AWS_ENDPOINT_URL_SQS: sqsEndpoint(),
            AWS_LAMBDA_FUNCTION_NAME: String(props.FunctionName),
            LOG_LEVEL: 'silent',
            ...(process.env.SC_RECORD_AWS_CALLS
              ? { SC_RECORD_AWS_CALLS: process.env.SC_RECORD_AWS_CALLS }
              : {}),
          },
        },
      );
      const line = stdout.trim().split('\n').at(-1) ?? '';
      const res = JSON.parse(line) as { ok: boolean; outs?: Json[]; error?: string };
      if (!res.ok) throw new Error(`${fn} failed: ${res.error}`);
      return res.outs as Json[];
    }
    const invoke = async (fn: string, event: unknown): Promise<Json> =>
      (await invokeAll(fn, [event]))[0] as Json;
    const http = (method: string, rawPath: string, body?: unknown) => ({
      version: '2.0',
      routeKey: '$default',
      rawPath,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      requestContext: { http: { method }, authorizer: { iam: { userArn: 'arn:aws:iam::1:user/op' } } },
    });

    it('answers API requests: registers a host and a container, sets a config key', async () => {
      const host = await invoke('api', http('PUT', '/hosts/h1', { cpu: { cores: 2 }, memMiB: 4096 }));
      expect(host.statusCode).toBe(201);
      expect(JSON.parse(String(host.body)).queueUrl).toContain('serverless-containers-a-h1.fifo');
      const ct = await invoke(
        'api',
        http('PUT', '/containers/c1', {
          host: 'h1',
          resources: {
            cpu: { max: 200, min: 50, current: 100 },
            mem: { max: 2048, min: 256, current: 1024 },
          },
        }),
      );
      expect(ct.statusCode).toBe(201);
      // The Guardian's window, shortened so the clock chain below ticks every 2 s.
      const config = await invoke(
        'api',
        http('PUT', '/services/guardian/config/WINDOW_TIMELAPSE', { value: 2 }),
      );
      expect(config.statusCode).toBe(200);
      expect((await invoke('api', http('GET', '/status'))).statusCode).toBe(200);
    }, 120_000);

    it('runs the control tick: the watchdog starts the clock chain, whose messages run ticks', async () => {
      // One execution environment: the watchdog, then three clock messages (the first reads whole
      // partitions, the next ones resume the chain and read host states only).
      const clock = { $clockMessageFrom: clockQueueUrl };
      const [watchdog, ...ticks] = await invokeAll('controlTick', [{}, clock, clock, clock]);
      expect(watchdog).toMatchObject({ alive: false, started: expect.anything() });
      expect(ticks).toEqual([
        { ticks: 1, dropped: 0 },
        { ticks: 1, dropped: 0 },
        { ticks: 1, dropped: 0 },
      ]);
    }, 240_000);

    it('runs a sanity sweep, a snapshot and a (disabled) ReBalancer period', async () => {
      expect(await invoke('sanity', {})).toBeDefined();
      expect(await invoke('snapshoter', {})).toBeDefined();
      expect(await invoke('rebalancer', {})).toBeDefined();
    }, 120_000);

    it('runs the bootstrapped sweeps and an active ReBalancer, each writing its service heartbeat', async () => {
      // As `npm run bootstrap` leaves them (a service item per function), the ReBalancer switched on.
      const d = doc();
      const table = new TableClient(d, tableName);
      for (const name of ['sanity', 'snapshoter', 'rebalancer'] as const)
        await table.put({
          ...keys.service(name),
          name,
          config: name === 'rebalancer' ? { ACTIVE: true } : {},
          heartbeat: null,
          version: 1,
        });
      for (const name of ['sanity', 'snapshoter', 'rebalancer']) {
        // the previous test's invocations hold their leases until their deadlines: a minute later
        await d.send(new DeleteCommand({ TableName: tableName, Key: keys.lease(name) }));
        expect(await invoke(name, {})).toMatchObject({ rounds: 1 });
        expect((await table.get(keys.service(name)))?.heartbeat).toEqual(expect.any(Number));
      }
      d.destroy();
    }, 120_000);
  });
});
