import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';
import { createDynamoDocumentClient } from '../../../adapters/aws.ts';
import { Catalog } from '../../../adapters/dynamodb/catalog.ts';
import { TableClient } from '../../../adapters/dynamodb/table-client.ts';
import { DEFAULT_RULES } from '../../../core/policy/default-rules.ts';
import { dynamoEndpoint, sqsEndpoint, uniqueName } from '../../support/env.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const run = promisify(execFile);

describe('npm run bootstrap', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-boot-cli-'));
  const table = uniqueName('sc-cli');
  // Only the standard AWS variables point it anywhere: no endpoint flag exists.
  const env = {
    ...process.env,
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint('dynalite'),
    AWS_ENDPOINT_URL_SQS: sqsEndpoint(),
    SC_TABLE: table,
  };
  const bootstrapCli = (...args: string[]) =>
    run(process.execPath, ['local/bootstrap-cli.ts', ...args], { cwd: ROOT, env });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('bootstraps the table named by SC_TABLE with rules from a file', async () => {
    const rulesFile = join(dir, 'rules.json');
    writeFileSync(rulesFile, JSON.stringify([{ ...DEFAULT_RULES[2], amount: 90 }]));
    const { stdout } = await bootstrapCli('--rules', rulesFile);
    expect(stdout).toContain(`bootstrap: table ${table} created`);
    const doc = createDynamoDocumentClient({ endpoint: dynamoEndpoint('dynalite'), region: 'us-east-1' });
    try {
      const rule = await new Catalog(new TableClient(doc, table)).getRule(DEFAULT_RULES[2]?.name ?? '');
      expect(rule?.rule).toMatchObject({ amount: 90 });
    } finally {
      doc.destroy();
    }
  });

  it('exits 1 naming the field of a malformed config file', async () => {
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ guardian: { WINDOW_DELAY: -1 } }));
    const err = await bootstrapCli('--config', configFile).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 1 });
    expect((err as { stderr: string }).stderr).toMatch(
      /^bootstrap failed: invalid config guardian\.WINDOW_DELAY: /,
    );
  });
});
