/**
 * Proves IAM policies against recorded AWS calls with a real policy evaluator
 * (@cloud-copilot/iam-simulate): the CloudFormation intrinsics of a packaged template are
 * resolved to concrete ARNs for one test account, region and stage, the recorded ARN templates
 * (adapters/aws-calls.ts) are filled in the same way, and each call is simulated.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { AwsCall } from '../../adapters/aws-calls.ts';

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';
export const PARTITION = 'aws';

type Json = Record<string, unknown>;
export interface CfnResource {
  Type: string;
  Properties: Json;
  Condition?: string;
}
export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Parameters?: Record<string, { Default?: unknown }>;
}
export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Json;
}
export interface Policy {
  Version: '2012-10-17';
  Statement: Statement[];
}

const PSEUDO: Record<string, string> = {
  'AWS::Partition': PARTITION,
  'AWS::Region': REGION,
  'AWS::AccountId': ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
};

/** The physical ARN of a resource the template creates, from its name property. */
function arnOf(t: CfnTemplate, id: string, params: Record<string, string>): string {
  const r = t.Resources[id];
  if (r === undefined) throw new Error(`no resource ${id} in the template`);
  const p = r.Properties;
  const name = (k: string) => String(resolve(t, p[k], params));
  switch (r.Type) {
    case 'AWS::DynamoDB::Table':
      return `arn:${PARTITION}:dynamodb:${REGION}:${ACCOUNT}:table/${name('TableName')}`;
    case 'AWS::SQS::Queue':
      return `arn:${PARTITION}:sqs:${REGION}:${ACCOUNT}:${name('QueueName')}`;
    case 'AWS::Logs::LogGroup':
      return `arn:${PARTITION}:logs:${REGION}:${ACCOUNT}:log-group:${name('LogGroupName')}:*`;
    case 'AWS::CloudWatch::Alarm':
      return `arn:${PARTITION}:cloudwatch:${REGION}:${ACCOUNT}:alarm:${name('AlarmName')}`;
    case 'AWS::IAM::Role':
      return `arn:${PARTITION}:iam::${ACCOUNT}:role/${id}`;
    default:
      throw new Error(`no ARN rule for ${id} (${r.Type})`);
  }
}

/** Ref of a resource or parameter. */
function refOf(t: CfnTemplate, id: string, params: Record<string, string>): string {
  if (PSEUDO[id] !== undefined) return PSEUDO[id];
  if (params[id] !== undefined) return params[id];
  const def = t.Parameters?.[id]?.Default;
  if (def !== undefined) return String(def);
  const r = t.Resources[id];
  if (r?.Type === 'AWS::SQS::Queue') {
    return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${resolve(t, r.Properties.QueueName, params)}`;
  }
  if (r?.Type === 'AWS::DynamoDB::Table') return String(resolve(t, r.Properties.TableName, params));
  throw new Error(`cannot resolve Ref ${id}`);
}

/** Resolves Ref, Fn::GetAtt (Arn), Fn::Sub, Fn::Join to concrete values. */
export function resolve(t: CfnTemplate, v: unknown, params: Record<string, string> = {}): unknown {
  if (Array.isArray(v)) return v.map((x) => resolve(t, x, params));
  if (v === null || typeof v !== 'object') return v;
  const o = v as Json;
  if ('Ref' in o) return refOf(t, String(o.Ref), params);
  if ('Fn::GetAtt' in o) {
    const [id, att] = o['Fn::GetAtt'] as [string, string];
    if (att === 'QueueName') return resolve(t, t.Resources[id]?.Properties.QueueName, params);
    if (att !== 'Arn') throw new Error(`Fn::GetAtt ${id}.${att} is not resolved`);
    return arnOf(t, id, params);
  }
  if ('Fn::Join' in o) {
    const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => String(resolve(t, p, params))).join(sep);
  }
  if ('Fn::Sub' in o) {
    const arg = o['Fn::Sub'];
    const [text, vars] = Array.isArray(arg) ? (arg as [string, Json]) : [arg as string, {}];
    return text.replace(/\$\{([^}]+)\}/g, (_m, name: string) => {
      if (vars[name] !== undefined) return String(resolve(t, vars[name], params));
      if (name.endsWith('.Arn')) return arnOf(t, name.slice(0, -'.Arn'.length), params);
      return refOf(t, name, params);
    });
  }
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, resolve(t, x, params)]));
}

/** The inline policies of a role, resolved. */
export function rolePolicies(t: CfnTemplate, roleId: string, params: Record<string, string> = {}): Policy[] {
  const role = t.Resources[roleId];
  if (role === undefined) throw new Error(`no role ${roleId}`);
  const policies = (role.Properties.Policies ?? []) as { PolicyDocument: unknown }[];
  return policies.map((p) => resolve(t, p.PolicyDocument, params) as Policy);
}

/** A call made concrete: its action, ARN and condition keys. */
export interface ConcreteCall {
  action: string;
  resource: string;
  leadingKeys?: string[];
  /** Where it came from (the recorded template, or the Lambda service's own call). */
  from: string;
}

/** Fills a recorded call's placeholders (`${Table}` …) with this stack's names. */
export function concrete(call: AwsCall, names: Record<string, string>): ConcreteCall {
  const fill = (s: string) =>
    s.replace(/\$\{([A-Za-z]+)\}/g, (m, n: string) => {
      const all: Record<string, string> = {
        Partition: PARTITION,
        Region: REGION,
        Account: ACCOUNT,
        ...names,
      };
      if (all[n] === undefined) throw new Error(`no value for ${m} in ${s}`);
      return all[n];
    });
  return {
    action: call.action,
    resource: fill(call.resource),
    ...(call.leadingKeys === undefined ? {} : { leadingKeys: call.leadingKeys.map(fill) }),
    from: `${call.action} ${call.resource}`,
  };
}

export type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied' | `error: ${string}`;

/** What IAM decides for `call` made by a principal holding exactly `policies`. */
export async function decide(policies: Policy[], call: ConcreteCall): Promise<Decision> {
  const contextVariables: Record<string, string | string[]> = {};
  if (call.leadingKeys !== undefined) contextVariables['dynamodb:LeadingKeys'] = call.leadingKeys;
  const res = await runSimulation(
    {
      identityPolicies: policies.map((policy, i) => ({ name: `p${i}`, policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        action: call.action,
        principal: `arn:${PARTITION}:iam::${ACCOUNT}:role/under-test`,
        resource: { accountId: ACCOUNT, resource: call.resource },
        contextVariables,
      },
    } as never,
    {},
  );
  const r = res as { resultType: string; overallResult?: string; errors?: unknown };
  if (r.resultType === 'error') return `error: ${JSON.stringify(r.errors)}`;
  return r.overallResult as Decision;
}

/** Each Allow statement's actions that no call uses through that statement. */
export async function unusedGrants(policies: Policy[], calls: ConcreteCall[]): Promise<string[]> {
  const unused: string[] = [];
  for (const policy of policies) {
    for (const s of policy.Statement) {
      if (s.Effect !== 'Allow') continue;
      for (const action of Array.isArray(s.Action) ? s.Action : [s.Action]) {
        const only: Policy = { Version: '2012-10-17', Statement: [{ ...s, Action: action }] };
        let used = false;
        for (const c of calls.filter((x) => x.action === action)) {
          if ((await decide([only], c)) === 'Allowed') {
            used = true;
            break;
          }
        }
        if (!used) unused.push(`${s.Sid ?? '(no Sid)'}: ${action} on ${JSON.stringify(s.Resource)}`);
      }
    }
  }
  return unused;
}
