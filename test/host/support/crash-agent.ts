/**
 * The host agent as main.ts builds it, except that it kills itself with
 * SIGKILL right after an order's cgroup write, before the report and the
 * delete — the worst moment to die. Used by test/host/host-agent/crash.test.ts.
 */
import { systemClock } from '../../../adapters/clock.ts';
import { createLogger } from '../../../adapters/logger.ts';
import { HostAgent } from '../../../host-agent/agent.ts';
import { LiteTable } from '../../../host-agent/aws/dynamo.ts';
import { LiteSqs } from '../../../host-agent/aws/sqs.ts';
import { loadAgentConfig } from '../../../host-agent/config.ts';
import { tcShaper } from '../../../host-agent/net/tc.ts';
import { DynamoAgentState } from '../../../host-agent/state.ts';

const config = loadAgentConfig(process.env);
const log = createLogger('crash-agent', { level: 'warn' });
const store = new DynamoAgentState(new LiteTable(config.tableName), config.host);
const putReport = store.putReport.bind(store);
store.putReport = async (report) => {
  if (report.via === 'order') process.kill(process.pid, 'SIGKILL');
  return putReport(report);
};
const agent = new HostAgent({
  config,
  sqs: new LiteSqs(),
  store,
  shaper: tcShaper(),
  clock: systemClock,
  log,
});
await agent.start();
