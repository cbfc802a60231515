import { describe, expect, it } from '@jest/globals';

/** The three scheduled handlers load with their environment (module scope builds clients, no I/O). */
describe('operations handlers', () => {
  it.each(['rebalancer', 'snapshoter', 'sanity'])('%s exports a middy handler', async (name) => {
    Object.assign(process.env, {
      SC_METRICS_URL: 'http://127.0.0.1:9',
      SC_OPENTSDB_URL: 'http://127.0.0.1:9',
      AWS_REGION: 'us-east-1',
    });
    const mod = (await import(`../../../../functions/handlers/${name}.ts`)) as { handler: unknown };
    expect(typeof mod.handler).toBe('function');
    expect(typeof (mod.handler as { use?: unknown }).use).toBe('function');
  });
});
