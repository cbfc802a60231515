/** host-agent/host-agent.env.example lists exactly the settings the agent reads, with their defaults. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import type { z } from 'zod';
import { AgentEnv, loadAgentConfig } from '../../../host-agent/config.ts';
import { ROOT } from '../../../scripts/package.ts';

const text = readFileSync(join(ROOT, 'host-agent/host-agent.env.example'), 'utf8');
/** `KEY=value` lines, set (`#` absent) or shown commented out with their default. */
const entries = [...text.matchAll(/^(#?)([A-Z][A-Z0-9_]*)=(.*)$/gm)].map(([, hash, key, value]) => ({
  set: hash === '',
  key: key as string,
  value: value as string,
}));
/** Read by the AWS SDK's credential chain and the agent's clients, not by its schema. */
const AWS_KEYS = new Set(['AWS_REGION', 'AWS_PROFILE', 'AWS_CONFIG_FILE']);

describe('host-agent.env.example', () => {
  it('names every setting of the agent’s schema, and nothing else but the AWS variables', () => {
    const own = entries.map((e) => e.key).filter((k) => !AWS_KEYS.has(k));
    expect([...own].sort()).toEqual(Object.keys(AgentEnv.shape).sort());
    expect(new Set(own).size).toBe(own.length);
  });

  it('shows each commented-out setting with the default the schema gives it', () => {
    const shape = AgentEnv.shape as Record<string, z.ZodType>;
    for (const e of entries.filter((x) => !x.set && !AWS_KEYS.has(x.key))) {
      const d = shape[e.key]?.safeParse(undefined);
      if (d?.success && d.data !== undefined)
        expect(`${e.key}=${e.value}`).toBe(`${e.key}=${String(d.data)}`);
    }
  });

  it('is a configuration the agent accepts as it stands', () => {
    const env = Object.fromEntries(entries.filter((e) => e.set).map((e) => [e.key, e.value]));
    expect(loadAgentConfig(env)).toMatchObject({
      host: 'node1',
      tableName: 'serverless-containers-prod-state',
    });
  });
});
