/**
 * The loop's service config stored as an operator would (hot-reloaded by the tick), and the
 * API with a token (nothing is served open), with one call helper carrying it.
 */
import { randomBytes } from 'node:crypto';
import { Catalog } from '../../adapters/dynamodb/catalog.ts';
import type { TableClient } from '../../adapters/dynamodb/table-client.ts';
import type { Logger } from '../../adapters/logger.ts';
import type { Rule } from '../../core/contracts/rule.ts';
import type { GuardianConfig } from '../../core/contracts/service-config.ts';
import { DEFAULT_RULES } from '../../core/policy/default-rules.ts';
import { startPlatformApi } from '../api-server.ts';
import type { LocalPlatform } from '../platform.ts';
import { thisHostName, thisHostRegistration } from '../topology.ts';
import type { Stops } from './local.ts';

/** Store a loop config's Guardian settings and rule changes over what is stored. */
export async function storeLoopConfig(o: {
  table: TableClient;
  name: string;
  config: { guardian: Partial<GuardianConfig>; rules: Record<string, Partial<Rule>> };
  say: (line: string) => void;
}): Promise<void> {
  const catalog = new Catalog(o.table);
  if (Object.keys(o.config.guardian).length > 0) {
    const current = await catalog.getService('guardian');
    await catalog.putServiceConfig(
      'guardian',
      { ...(current?.config ?? {}), ...o.config.guardian },
      { expectedVersion: current?.version ?? null },
    );
  }
  for (const [name, change] of Object.entries(o.config.rules)) {
    const stored = await catalog.getRule(name);
    const base = stored?.rule ?? DEFAULT_RULES.find((r) => r.name === name);
    if (base === undefined) throw new Error(`config ${o.name}: no rule ${name}`);
    await catalog.putRule({ ...base, ...change }, { expectedVersion: stored?.version ?? null });
  }
  o.say(
    `service config: ${o.name}${o.name === 'default' ? ' (as bootstrapped)' : ` (${JSON.stringify(o.config.guardian)})`}`,
  );
}

export type ApiCall = (
  method: string,
  path: string,
  body?: unknown,
) => Promise<{ status: number; body: unknown }>;

export async function startApi(o: {
  platform: LocalPlatform;
  apiToken: string | undefined;
  logger: Logger;
  say: (line: string) => void;
  stops: Stops;
}): Promise<{ url: string; token: string; call: ApiCall }> {
  const token = o.apiToken ?? process.env.SC_API_TOKEN ?? randomBytes(18).toString('base64url');
  const api = await startPlatformApi({
    dynamodbEndpoint: o.platform.endpoints.dynamodb,
    sqsEndpoint: o.platform.endpoints.sqs,
    tableName: o.platform.tableName,
    queuePrefix: o.platform.queuePrefix,
    token,
    logger: o.logger,
  });
  o.stops.push({ what: 'api', stop: api.stop });
  o.say(`API         ${api.url}`);
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${api.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? null : (JSON.parse(text) as unknown) };
  };

  return { url: api.url, token, call };
}

/** This machine as a host, through the API (creates HostState and the order queue + DLQ). */
export async function registerThisHost(call: ApiCall, say: (line: string) => void) {
  const host = thisHostName();
  const registration = thisHostRegistration();
  const reg = await call('PUT', `/hosts/${host}`, registration);
  if (reg.status !== 201 && reg.status !== 200)
    throw new Error(`registering host ${host}: ${reg.status} ${JSON.stringify(reg.body)}`);
  say(
    `host        ${host} registered: ${registration.cpu.topology.length} CPUs (${registration.cpu.topology.length * 100} shares), ${registration.memMiB} MiB`,
  );
  return { host, registration };
}
