/**
 * The local platform: emulated DynamoDB and SQS (and optionally VictoriaMetrics
 * as the time-series store) on 127.0.0.1, bootstrapped by the same bootstrap
 * that serves LocalStack and AWS. Returns the endpoints, the environment that
 * points the AWS SDK at them, and `stop()`, which stops everything it started.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoDocumentClient, createSqsClient } from '../adapters/aws.ts';
import { DEFAULT_QUEUE_PREFIX } from '../core/contracts/order-queue.ts';
import { DEFAULT_TABLE_NAME } from '../core/contracts/table-layout.ts';
import { type BootstrapReport, bootstrap } from './bootstrap.ts';
import {
  type DynamoFlavour,
  endpointEnv,
  type Running,
  type RunningTsdb,
  startDynalite,
  startDynamoDbLocal,
  startFauxqs,
  startVictoriaMetrics,
} from './emulators.ts';

export interface LocalPlatformOptions {
  dynamo?: DynamoFlavour;
  /** Start VictoriaMetrics (OpenTSDB in, Prometheus API out) as the local metrics store. */
  tsdb?: boolean;
  tableName?: string;
  queuePrefix?: string;
  /** Progress lines, e.g. for `npm start`. */
  log?: (line: string) => void;
}

export interface LocalPlatform {
  readonly endpoints: {
    dynamodb: string;
    sqs: string;
    /** Prometheus query API of the metrics store, when started. */
    prometheus: string | null;
    /** OpenTSDB `/api/put` listener of the metrics store, when started. */
    opentsdb: string | null;
  };
  /** AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS, region and dummy credentials, SC_TABLE, SC_QUEUE_PREFIX. */
  readonly env: Readonly<Record<string, string>>;
  readonly tableName: string;
  readonly queuePrefix: string;
  readonly dynamoFlavour: DynamoFlavour;
  readonly tsdb: RunningTsdb | null;
  readonly bootstrap: BootstrapReport;
  /** Stops every service that was started, most recent first. Safe to call twice. */
  stop(): Promise<void>;
}

const LOCAL_REGION = 'us-east-1';
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

const DYNAMO_LABEL: Record<DynamoFlavour, string> = {
  dynalite: 'dynalite (DynamoDB, in-process)',
  'dynamodb-local': 'DynamoDB Local (Java)',
};

export async function startLocalPlatform(opts: LocalPlatformOptions = {}): Promise<LocalPlatform> {
  const log = opts.log ?? (() => undefined);
  const flavour = opts.dynamo ?? 'dynalite';
  const tableName = opts.tableName ?? DEFAULT_TABLE_NAME;
  const queuePrefix = opts.queuePrefix ?? DEFAULT_QUEUE_PREFIX;
  const started: Running[] = [];
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const errors: unknown[] = [];
      for (const service of started.reverse()) {
        await service.stop().catch((err: unknown) => errors.push(err));
      }
      if (errors.length > 0) throw new AggregateError(errors, 'some local services did not stop cleanly');
    })();
    return stopping;
  };

  const track = async <R extends Running>(label: string, start: () => Promise<R>): Promise<R> => {
    log(`starting ${label}`);
    const service = await start();
    started.push(service);
    log(`${service.name} listening on ${service.endpoint}`);
    return service;
  };

  let dynamo: DynamoDBDocumentClient | null = null;
  let sqsClient: ReturnType<typeof createSqsClient> | null = null;
  try {
    // Start all services at once (DynamoDB Local's JVM dominates); settle all so a failure stops the rest.
    const [dbR, sqsR, tsdbR] = await Promise.allSettled([
      track(DYNAMO_LABEL[flavour], flavour === 'dynalite' ? startDynalite : startDynamoDbLocal),
      track('fauxqs (SQS, in-process)', startFauxqs),
      opts.tsdb === true ? track('VictoriaMetrics (metrics store)', startVictoriaMetrics) : null,
    ]);
    for (const r of [dbR, sqsR, tsdbR]) if (r.status === 'rejected') throw r.reason;
    const db = (dbR as PromiseFulfilledResult<Running>).value;
    const sqs = (sqsR as PromiseFulfilledResult<Running>).value;
    const tsdb = (tsdbR as PromiseFulfilledResult<RunningTsdb | null>).value;
    const env: Record<string, string> = {
      ...endpointEnv({ dynamodb: db.endpoint, sqs: sqs.endpoint }),
      SC_TABLE: tableName,
      SC_QUEUE_PREFIX: queuePrefix,
    };
    const local = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
    dynamo = createDynamoDocumentClient({ endpoint: db.endpoint, ...local });
    sqsClient = createSqsClient({ endpoint: sqs.endpoint, ...local });
    const report = await bootstrap(
      { dynamo, sqs: sqsClient, log: (line) => log(`bootstrap: ${line}`) },
      { tableName, queuePrefix },
    );
    return {
      endpoints: {
        dynamodb: db.endpoint,
        sqs: sqs.endpoint,
        prometheus: tsdb?.promUrl ?? null,
        opentsdb: tsdb?.opentsdbUrl ?? null,
      },
      env: Object.freeze(env),
      tableName,
      queuePrefix,
      dynamoFlavour: flavour,
      tsdb,
      bootstrap: report,
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  } finally {
    dynamo?.destroy();
    sqsClient?.destroy();
  }
}
