/**
 * Entry point: `npx node host-agent/main.ts` (as root; see host-agent/README.md).
 * Builds config and clients once, starts the agent, and drains on SIGTERM/SIGINT.
 * The AWS calls go through the agent's own small clients (host-agent/aws/), not the SDK,
 * which would more than double the agent's memory.
 */
import { systemClock } from '../adapters/clock.ts';
import { createLogger } from '../adapters/logger.ts';
import { HostAgent } from './agent.ts';
import { LiteTable } from './aws/dynamo.ts';
import { LiteSqs } from './aws/sqs.ts';
import { loadAgentConfig } from './config.ts';
import { tcShaper } from './net/tc.ts';
import { DynamoAgentState } from './state.ts';

const log = createLogger('host-agent');
let config: ReturnType<typeof loadAgentConfig>;
try {
  config = loadAgentConfig(process.env);
} catch (err) {
  log.fatal({ err: (err as Error).message }, 'bad configuration');
  process.exit(2);
}
log.level = config.logLevel;

// Its calls are recorded when SC_RECORD_AWS_CALLS is set (tests: the per-host policy is proven against them).
const record = {
  deployable: 'host-agent',
  table: config.tableName,
  queuePrefix: config.queuePrefix,
  host: config.host,
};
const table = new LiteTable(config.tableName, { requestTimeoutMs: 5000, record });
const sqs = new LiteSqs({ requestTimeoutMs: (config.waitTimeS + 10) * 1000, record });
const agent = new HostAgent({
  config,
  sqs,
  store: new DynamoAgentState(table, config.host),
  shaper: tcShaper(),
  clock: systemClock,
  log,
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping: draining in-flight orders');
  await agent.stop();
  sqs.destroy();
  table.destroy();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

try {
  await agent.start();
} catch (err) {
  log.fatal({ err: (err as Error).message }, 'host agent failed to start');
  process.exit(1);
}
