/**
 * `npm run bootstrap [-- --rules rules.json] [-- --config config.json]`
 * Bootstraps the state table wherever the AWS SDK is pointed: AWS, or local
 * endpoints through AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_DYNAMODB / _SQS.
 * Table name from SC_TABLE, queue prefix from SC_QUEUE_PREFIX.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createDynamoDocumentClient, createSqsClient } from '../adapters/aws.ts';
import { readEnvConfig } from '../adapters/env.ts';
import { ScError } from '../core/errors.ts';
import { bootstrap, PlatformEnv } from './bootstrap.ts';

const USAGE = `usage: npm run bootstrap -- [--rules <rules.json>] [--config <config.json>]
  --rules   JSON array of rules; replaces stored rules of the same name
  --config  JSON object { "<service>": { <settings> } }; replaces those services' stored configs
environment: SC_TABLE (default sc-state), SC_QUEUE_PREFIX (default sc-), AWS_ENDPOINT_URL*`;

function readJson(path: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ScError(`cannot read ${what} file ${path}: ${(err as Error).message}`, { cause: err });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rules: { type: 'string' },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const env = readEnvConfig(PlatformEnv, process.env, 'environment');
  const dynamo = createDynamoDocumentClient();
  const sqs = createSqsClient();
  try {
    const report = await bootstrap(
      { dynamo, sqs, log: (line) => process.stdout.write(`bootstrap: ${line}\n`) },
      {
        tableName: env.SC_TABLE,
        queuePrefix: env.SC_QUEUE_PREFIX,
        ...(values.rules === undefined ? {} : { rules: readJson(values.rules, 'rules') }),
        ...(values.config === undefined ? {} : { configs: readJson(values.config, 'config') }),
      },
    );
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } finally {
    dynamo.destroy();
    sqs.destroy();
  }
}

try {
  await main();
} catch (err) {
  const known = err instanceof ScError || (err instanceof Error && err.name === 'TypeError');
  process.stderr.write(`bootstrap failed: ${known ? (err as Error).message : String(err)}\n`);
  if (!known && err instanceof Error && err.stack !== undefined) process.stderr.write(`${err.stack}\n`);
  process.exitCode = 1;
}
