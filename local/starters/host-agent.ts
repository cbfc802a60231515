/**
 * The host agent for this machine, in-process, as deployed: its own small AWS clients
 * (host-agent/aws/, not the SDK), publishing usage to VictoriaMetrics' OpenTSDB /api/put.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../../adapters/clock.ts';
import type { Logger } from '../../adapters/logger.ts';
import { HostAgent } from '../../host-agent/agent.ts';
import { LiteTable } from '../../host-agent/aws/dynamo.ts';
import { LiteSqs } from '../../host-agent/aws/sqs.ts';
import { type AgentConfig, loadAgentConfig } from '../../host-agent/config.ts';
import { tcShaper } from '../../host-agent/net/tc.ts';
import { DynamoAgentState } from '../../host-agent/state.ts';
import type { LocalPlatform } from '../platform.ts';
import { LOCAL, type Stops } from './local.ts';

export async function startHostAgent(o: {
  platform: LocalPlatform;
  host: string;
  opentsdbUrl: string;
  /** Usage published every this many ms. */
  publishMs: number;
  /** Plan only, write no limits (no cgroups to write on this machine). */
  dryRun: boolean;
  logger: Logger;
  say: (line: string) => void;
  stops: Stops;
}): Promise<{ agent: HostAgent; agentConfig: Readonly<AgentConfig> }> {
  const agentConfig = loadAgentConfig({
    SC_AGENT_HOST: o.host,
    SC_TABLE: o.platform.tableName,
    SC_QUEUE_PREFIX: o.platform.queuePrefix,
    SC_AGENT_PUBLISH_URL: o.opentsdbUrl,
    SC_AGENT_PUBLISH_S: String(o.publishMs / 1000),
    SC_AGENT_WAIT_TIME_S: '20',
    SC_AGENT_RECONCILE_S: '10',
    SC_AGENT_UNKNOWN_RETRY_S: '1',
    SC_AGENT_DRY_RUN: o.dryRun ? 'true' : 'false',
    // This loop's own lease, watched by its own watchdog (below): a loop killed mid-stall never
    // leaves a container hanging with its OOM killer off.
    SC_AGENT_OOM_LEASE: join(tmpdir(), `sc-loop-${process.pid}`, 'oom-lease'),
    LOG_LEVEL: 'info',
  });
  // The agent's own small AWS clients, as deployed (host-agent/aws/), not the SDK.
  const agentCredentials = async () => LOCAL.credentials;
  // Its AWS calls recorded as the agent's when SC_RECORD_AWS_CALLS is set (IAM proven by a test).
  const agentRecord = {
    deployable: 'host-agent',
    table: agentConfig.tableName,
    queuePrefix: agentConfig.queuePrefix,
    host: agentConfig.host,
  };
  const agentTable = new LiteTable(o.platform.tableName, {
    endpoint: o.platform.endpoints.dynamodb,
    region: LOCAL.region,
    credentials: agentCredentials,
    requestTimeoutMs: 5000,
    record: agentRecord,
  });
  const agentSqs = new LiteSqs({
    endpoint: o.platform.endpoints.sqs,
    region: LOCAL.region,
    credentials: agentCredentials,
    requestTimeoutMs: (agentConfig.waitTimeS + 10) * 1000,
    record: agentRecord,
  });
  const agent = new HostAgent({
    config: agentConfig,
    sqs: agentSqs,
    store: new DynamoAgentState(agentTable, o.host),
    shaper: tcShaper(),
    clock: systemClock,
    log: o.logger,
  });
  let watchdog: ChildProcess | null = null;
  if (agentConfig.oomLeasePath !== null && !agentConfig.dryRun) {
    // The OOM guard's watchdog, a process of its own (it must outlive this one); it exits once
    // it has re-armed after the lease lapsed: when the agent stops, or this process dies.
    watchdog = spawn(
      process.execPath,
      [fileURLToPath(new URL('../../host-agent/oom-watchdog.ts', import.meta.url)), '--exit-when-lapsed'],
      {
        env: {
          ...process.env,
          SC_AGENT_HOST: o.host,
          SC_TABLE: o.platform.tableName,
          SC_AGENT_OOM_LEASE: agentConfig.oomLeasePath,
        },
        stdio: 'ignore',
        detached: true,
      },
    );
    watchdog.unref();
  }
  await agent.start();
  o.stops.push({
    what: 'host agent',
    stop: async () => {
      await agent.stop();
      // The agent gave its lease up: the watchdog exits at its next poll (≤ 500 ms). Wait for it,
      // so a stopped loop leaves no process behind; one that lingers is stopped.
      if (watchdog !== null) await stopWatchdog(watchdog, 3000);
    },
  });
  o.say(
    `host agent  started${agentConfig.dryRun ? ' in DRY-RUN (limits are not written)' : ''}; usage → ${o.opentsdbUrl}/api/put every ${o.publishMs / 1000} s`,
  );

  return { agent, agentConfig };
}

/** Wait up to `ms` for the watchdog to exit on its own, then SIGTERM it (it re-arms nothing then: the agent did). */
async function stopWatchdog(watchdog: ChildProcess, ms: number): Promise<void> {
  if (watchdog.exitCode !== null || watchdog.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => watchdog.once('exit', () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms);
  });
  if ((await Promise.race([exited, late])) === 'late') {
    watchdog.kill('SIGTERM');
    await exited;
  }
  clearTimeout(timer);
}
