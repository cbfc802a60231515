import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from '@jest/globals';
import { createDynamoDocumentClient, createSqsClient } from '../../../adapters/aws.ts';
import { Catalog } from '../../../adapters/dynamodb/catalog.ts';
import { TableClient } from '../../../adapters/dynamodb/table-client.ts';
import { SERVICE_CONFIGS } from '../../../core/contracts/service-config.ts';
import { startLocalPlatform } from '../../../local/platform.ts';

const local = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };

async function reachable(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

describe('startLocalPlatform', () => {
  it('starts bootstrapped services on 127.0.0.1 and stops all of them, twice safely', async () => {
    const lines: string[] = [];
    const platform = await startLocalPlatform({ tableName: 'sc-platform-test', log: (l) => lines.push(l) });
    const { endpoints, env } = platform;
    try {
      expect(endpoints.dynamodb).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(endpoints.sqs).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(endpoints.prometheus).toBeNull();
      expect(env).toMatchObject({
        AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
        AWS_ENDPOINT_URL_SQS: endpoints.sqs,
        SC_TABLE: 'sc-platform-test',
        SC_QUEUE_PREFIX: 'sc-',
      });
      expect(platform.bootstrap.servicesWritten).toHaveLength(Object.keys(SERVICE_CONFIGS).length);
      expect(lines).toContain('bootstrap: table sc-platform-test created');
      const doc = createDynamoDocumentClient({ endpoint: endpoints.dynamodb, ...local });
      const sqs = createSqsClient({ endpoint: endpoints.sqs, ...local });
      try {
        expect(
          await new Catalog(new TableClient(doc, 'sc-platform-test')).loadServiceConfig('guardian'),
        ).toMatchObject({ WINDOW_TIMELAPSE: 5 });
        expect((await sqs.send(new ListQueuesCommand({}))).QueueUrls ?? []).toEqual([]);
      } finally {
        doc.destroy();
        sqs.destroy();
      }
    } finally {
      await platform.stop();
    }
    await platform.stop();
    expect(await reachable(endpoints.dynamodb)).toBe(false);
    expect(await reachable(endpoints.sqs)).toBe(false);
  });

  it('starts VictoriaMetrics when asked and stops it with the rest', async () => {
    const platform = await startLocalPlatform({ tsdb: true });
    const prom = platform.endpoints.prometheus;
    try {
      expect(prom).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(await reachable(`${prom}/health`)).toBe(true);
    } finally {
      await platform.stop();
    }
    expect(await reachable(`${prom}/health`)).toBe(false);
  });
});
