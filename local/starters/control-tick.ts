/**
 * The control-tick function under the local scheduler, clocked as deployed: built from its own
 * env schema (buildControlTick), reading usage through the Prometheus API, invoked once a minute
 * (SC_CONTROL_CLOCK 'invocation') or by its clock queue and watchdog ('queue'); counts what it
 * costs (units, orders, log bytes) for the loop's cost figure.
 */
import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { createSqsClient } from '../../adapters/aws.ts';
import { createLogger } from '../../adapters/logger.ts';
import { ASSUMED_FLEET } from '../../bench/cost/assumptions.ts';
import { type LoopCounts, type RunCounters, SECONDS_PER_MONTH } from '../../bench/cost/model.ts';
import { newChainState, sqsTriggerQueue } from '../../functions/guardian/chain.ts';
import { runTick } from '../../functions/guardian/tick.ts';
import {
  buildControlTick,
  type ControlTickWiring,
  clockWatchdog,
  handleClockEvent,
  invokeControlTick,
  readControlTickEnv,
} from '../../functions/guardian/wiring.ts';
import type { AgentConfig } from '../../host-agent/config.ts';
import type { LocalPlatform } from '../platform.ts';
import { type RunningSchedule, startQueueTrigger, startSchedule } from '../scheduler.ts';
import { functionClients } from './function-clients.ts';
import { LOCAL, type Stops } from './local.ts';

/** How long the local loop's control tick holds activity lines before writing them, s. */
export const LOCAL_ACTIVITY_HOLD_S = 5;

/** The control tick as deployed (serverless.yml `controlTick`): schedule, timeout, memory, clock. */
export const CONTROL_TICK = {
  rate: 'rate(1 minute)',
  timeoutMs: 70_000,
  memoryMiB: 512,
  /** serverless.yml `custom.controlClock`: SC_CONTROL_CLOCK, default 'queue'. */
  clock: (): 'invocation' | 'queue' =>
    process.env.SC_CONTROL_CLOCK === 'invocation' ? 'invocation' : 'queue',
} as const;

export interface RunningControlTick {
  wiring: ControlTickWiring;
  clockMode: 'invocation' | 'queue';
  /** What one tick costs with no container guarded (the calibration tick). */
  fixedPerTick: { readUnits: number; writeUnits: number; logBytes: number };
  /** Counted at the end of each invocation, so ticks and requests always match. */
  done: {
    ticks: number;
    readUnits: number;
    writeUnits: number;
    orders: number;
    logBytes: number;
    containerTicks: number;
  };
  invocationMs: number[];
  /** Aborted when the tick stops (the sweeps stop with it). */
  signal: AbortSignal;
}

export async function startControlTick(o: {
  platform: LocalPlatform;
  promUrl: string;
  opentsdbUrl: string;
  /** Extra control-tick environment (the loop config's). */
  tickEnv: Record<string, string>;
  /** Where the tick logs; its byte count is the log volume of the cost figure. */
  logStream: Writable & { readonly bytes: number };
  stops: Stops;
}): Promise<RunningControlTick> {
  // The control tick, built from its own env schema, reading usage through the Prometheus API,
  // clocked as deployed (serverless.yml SC_CONTROL_CLOCK, default 'queue': a clock queue on fauxqs).
  // The stack's side (the clock queue, the event source mapping that polls it): not the function's calls.
  const tickSqs = createSqsClient({ endpoint: o.platform.endpoints.sqs, ...LOCAL });
  const clockMode = CONTROL_TICK.clock();
  const clockQueueUrl =
    clockMode === 'queue'
      ? (
          await tickSqs.send(
            new CreateQueueCommand({ QueueName: `${o.platform.env.SC_QUEUE_PREFIX ?? 'sc-'}control-clock` }),
          )
        ).QueueUrl
      : undefined;
  // The function's own clients: its calls recorded as controlTick's when SC_RECORD_AWS_CALLS is set.
  const own = functionClients(o.platform, 'controlTick', clockQueueUrl);
  const wiring: ControlTickWiring = buildControlTick(
    readControlTickEnv({
      ...o.platform.env,
      SC_METRICS_BACKEND: 'prometheus',
      SC_METRICS_URL: o.promUrl,
      SC_OPENTSDB_URL: o.opentsdbUrl,
      SC_CONTROL_CLOCK: clockMode,
      ...(clockQueueUrl === undefined ? {} : { SC_CLOCK_QUEUE_URL: clockQueueUrl }),
      // The demo's dashboard shows events and orders within seconds; deployed, lines are held
      // up to 60 s and packed per host (fewer write units). SC_ACTIVITY_HOLD_S overrides.
      SC_ACTIVITY_HOLD_S: process.env.SC_ACTIVITY_HOLD_S ?? String(LOCAL_ACTIVITY_HOLD_S),
      ...o.tickEnv,
    }),
    {
      dynamo: own.dynamo,
      sqs: own.sqs,
      logger: createLogger('control-tick', { destination: o.logStream }),
    },
  );
  // Calibration: one tick with no container guarded measures what every tick costs whatever the fleet.
  const before = { ...wiring.table.counters, log: o.logStream.bytes };
  await runTick(
    { state: wiring.state, metrics: wiring.metrics, sink: wiring.sink, logger: wiring.logger },
    Date.now(),
  );
  const fixedPerTick = {
    readUnits: wiring.table.counters.readUnits - before.readUnits,
    writeUnits: wiring.table.counters.writeUnits - before.writeUnits,
    logBytes: o.logStream.bytes - before.log,
  };
  const base = { ...wiring.table.counters, log: o.logStream.bytes, orders: wiring.sent.orders };

  // Counted at the end of each invocation, so ticks and requests always match.
  const done = { ticks: 0, readUnits: 0, writeUnits: 0, orders: 0, logBytes: 0, containerTicks: 0 };
  const invocationMs: number[] = [];
  const _guardedNow = 0;
  const tickAbort = new AbortController();
  const record = (ticks: number, structures: number, ms: number) => {
    if (ticks > 0) invocationMs.push(ms);
    done.ticks += ticks;
    done.containerTicks += structures;
    done.readUnits = wiring.table.counters.readUnits - base.readUnits;
    done.writeUnits = wiring.table.counters.writeUnits - base.writeUnits;
    done.orders = wiring.sent.orders - base.orders;
    done.logBytes = o.logStream.bytes - base.log;
  };
  const schedules: RunningSchedule[] = [];
  if (clockMode === 'invocation') {
    schedules.push(
      startSchedule({
        name: 'controlTick',
        rate: CONTROL_TICK.rate,
        timeoutMs: CONTROL_TICK.timeoutMs,
        memoryMiB: CONTROL_TICK.memoryMiB,
        allowOverlap: true, // as EventBridge: the next invocation waits for the lease and takes over
        signal: tickAbort.signal,
        logger: wiring.logger,
        handler: async (_event, context) => {
          const started = Date.now();
          const r = await invokeControlTick(wiring, context, tickAbort.signal);
          record(
            r.ticks,
            r.reports.reduce((n, t) => n + t.structures, 0),
            Date.now() - started,
          );
          return { ticks: r.ticks, stopped: r.stopped };
        },
      }),
    );
  } else {
    // The clock queue's event source mapping (one tick per message) and the watchdog schedule.
    const chain = newChainState();
    const proc = randomBytes(8).toString('hex');
    schedules.push(
      startQueueTrigger({
        name: 'controlTick',
        queue: sqsTriggerQueue(tickSqs, clockQueueUrl as string),
        timeoutMs: CONTROL_TICK.timeoutMs,
        memoryMiB: CONTROL_TICK.memoryMiB,
        signal: tickAbort.signal,
        logger: wiring.logger,
        handler: async (event) => {
          const started = Date.now();
          const out = await handleClockEvent(wiring, chain, proc, event);
          const ran = out.filter((o) => o.ran);
          record(
            ran.length,
            ran.reduce((n, o) => n + (o.ran ? (o.report?.structures ?? 0) : 0), 0),
            Date.now() - started,
          );
          return { ticks: ran.length };
        },
      }),
      startSchedule({
        name: 'controlTick',
        rate: CONTROL_TICK.rate,
        timeoutMs: CONTROL_TICK.timeoutMs,
        memoryMiB: CONTROL_TICK.memoryMiB,
        signal: tickAbort.signal,
        logger: wiring.logger,
        handler: () => clockWatchdog(wiring),
      }),
    );
  }
  o.stops.push({
    what: 'control tick',
    stop: async () => {
      tickAbort.abort();
      await Promise.all(schedules.map((s) => s.done));
      tickSqs.destroy();
      own.destroy();
    },
  });
  return { wiring, clockMode, fixedPerTick, done, invocationMs, signal: tickAbort.signal };
}

export interface LoopCounters extends RunCounters {
  deployment: Pick<LoopCounts, 'perHostMonth' | 'functions'>;
  containersPerHost: number;
  tickSeconds: number;
}

const MINUTES_PER_MONTH = SECONDS_PER_MONTH / 60;

/** What the loop's control tick cost so far, and what it would cost deployed. */
export function loopCounters(
  tick: Pick<RunningControlTick, 'clockMode' | 'fixedPerTick' | 'done' | 'invocationMs'>,
  o: { guardedNow: number; agentConfig: Pick<AgentConfig, 'waitTimeS' | 'heartbeatMs'>; tickSeconds: number },
): LoopCounters {
  const { clockMode, fixedPerTick, done, invocationMs } = tick;
  const meanInvocationS =
    invocationMs.length === 0
      ? CONTROL_TICK.timeoutMs / 1000
      : invocationMs.reduce((a, b) => a + b, 0) / invocationMs.length / 1000;
  return {
    ticks: done.ticks,
    containers: done.ticks === 0 ? o.guardedNow : Math.max(1, Math.round(done.containerTicks / done.ticks)),
    readUnits: done.readUnits,
    writeUnits: done.writeUnits,
    // Each order is one FIFO send, one receive and one delete.
    sqsRequests: done.orders * 3,
    logBytes: done.logBytes,
    fixedPerTick,
    deployment: {
      perHostMonth: {
        // One long poll per SC_AGENT_WAIT_TIME_S while idle; at most one heartbeat item write (< 1 KB) per
        // period (an upper bound: the agent skips it when a report landed within the period).
        sqsRequests: SECONDS_PER_MONTH / o.agentConfig.waitTimeS,
        writeUnits: SECONDS_PER_MONTH / (o.agentConfig.heartbeatMs / 1000),
        logBytes: 0,
      },
      functions:
        clockMode === 'invocation'
          ? [
              {
                name: 'control-tick',
                memoryMiB: CONTROL_TICK.memoryMiB,
                arch: 'arm64',
                invocationsPerMonth: MINUTES_PER_MONTH,
                billedSecondsPerInvocation: meanInvocationS,
                scheduledPerMonth: MINUTES_PER_MONTH,
              },
            ]
          : [
              {
                // one invocation per tick (clock queue); the watchdog's are negligible
                name: 'control-tick (clock messages)',
                memoryMiB: CONTROL_TICK.memoryMiB,
                arch: 'arm64',
                invocationsPerMonth: SECONDS_PER_MONTH / o.tickSeconds,
                billedSecondsPerInvocation: invocationMs.length === 0 ? 1 : meanInvocationS,
                scheduledPerMonth: 0,
              },
            ],
    },
    containersPerHost: ASSUMED_FLEET.containersPerHost,
    tickSeconds: o.tickSeconds,
  };
}
