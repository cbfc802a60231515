/**
 * Written-down request counts for two designs of the loop, used by docs/cost.md
 * until the benchmark measures real ones. These are ESTIMATES from the item
 * sizes and access patterns in docs/state.md, not measurements; the benchmark
 * never prints them as figures.
 */
import {
  type FunctionUsage,
  type LoopCounts,
  readUnits,
  SECONDS_PER_MONTH,
  sqsRequests,
  writeUnits,
} from './model.ts';

/**
 * Item sizes, bytes. The host item and GUARD sizes are checked against DynamoDB
 * Local's consumed capacity for items built from the contracts
 * (test/integration/bench/cost/assumptions.test.ts: a 20-container host item is
 * 7 WRU in the JSON-doc layout; it and 20 GUARD items read as 4 RRU); APPLIED and activity are estimates.
 */
export const ASSUMED_SIZES = {
  hostStatePerContainer: 300,
  hostStateBase: 250,
  guardItem: 500,
  appliedItem: 300,
  activityItem: 300,
  order: 900,
} as const;

export const ASSUMED_FLEET = { containers: 1000, containersPerHost: 20, tickSeconds: 10 } as const;

const LONG_POLL_SECONDS = 20;
const MINUTES_PER_MONTH = SECONDS_PER_MONTH / 60;

export function hostPartitionBytes(containersPerHost: number, compactState: boolean): number {
  const s = ASSUMED_SIZES;
  const state = s.hostStateBase + containersPerHost * (compactState ? 150 : s.hostStatePerContainer);
  return state + containersPerHost * (s.guardItem + s.appliedItem);
}

export function hostStateBytes(containersPerHost: number, compactState: boolean): number {
  return (
    ASSUMED_SIZES.hostStateBase +
    containersPerHost * (compactState ? 150 : ASSUMED_SIZES.hostStatePerContainer)
  );
}

/**
 * "As documented": every 10 s tick reads each host's whole partition strongly
 * consistent, the Guardian writes a container's GUARD item whenever its events
 * change (assumed 5 % of container-ticks) plus an activity line, and every scale
 * action (assumed one per container per 30 min) rewrites the host item, GUARD,
 * APPLIED and two activity lines and moves one order through SQS. The control
 * tick runs inside a once-a-minute invocation that waits between its ticks.
 */
export function asDocumented(containersPerHost: number = ASSUMED_FLEET.containersPerHost): LoopCounts {
  const s = ASSUMED_SIZES;
  const actionsPerContainerTick = ASSUMED_FLEET.tickSeconds / 1800;
  const actionWru =
    writeUnits(hostStateBytes(containersPerHost, false)) +
    writeUnits(s.guardItem) +
    writeUnits(s.appliedItem) +
    2 * writeUnits(s.activityItem);
  return {
    perContainerTick: {
      readUnits: readUnits(hostPartitionBytes(containersPerHost, false), 'strong') / containersPerHost,
      writeUnits:
        0.05 * (writeUnits(s.guardItem) + writeUnits(s.activityItem)) + actionsPerContainerTick * actionWru,
      sqsRequests: actionsPerContainerTick * 3 * sqsRequests(s.order),
      logBytes: 0.05 * 200,
    },
    perTick: {
      // host list (keys only, eventual) + rules + service configs (strong)
      readUnits: readUnits(2000, 'eventual') + readUnits(6000, 'strong') + readUnits(3000, 'strong'),
      writeUnits: 0,
      logBytes: 400,
    },
    perHostMonth: {
      sqsRequests: SECONDS_PER_MONTH / LONG_POLL_SECONDS,
      writeUnits: SECONDS_PER_MONTH / 30, // heartbeat every 30 s
      logBytes: 0,
    },
    functions: [controlTickWaiting(256), sweep()],
  };
}

/**
 * "Lean": the same loop with the cheaper choices — the ticking invocation keeps
 * state and live events in memory (the lease makes it the only Guardian),
 * re-reads host partitions once a minute eventually consistent (and whatever
 * its own writes changed), writes GUARD only when limits change with a scale
 * action, keeps the per-container part of the host item compact (≈ 150 B, e.g. short attribute names),
 * one scale action per container per hour, heartbeats every 60 s, 128 MiB.
 */
export function lean(containersPerHost: number = ASSUMED_FLEET.containersPerHost): LoopCounts {
  const s = ASSUMED_SIZES;
  const ticksPerMinute = 60 / ASSUMED_FLEET.tickSeconds;
  const actionsPerContainerTick = ASSUMED_FLEET.tickSeconds / 3600;
  const actionWru =
    writeUnits(hostStateBytes(containersPerHost, true)) +
    writeUnits(s.guardItem) +
    writeUnits(s.appliedItem) +
    writeUnits(s.activityItem);
  return {
    perContainerTick: {
      readUnits:
        readUnits(hostPartitionBytes(containersPerHost, true), 'eventual') /
        containersPerHost /
        ticksPerMinute,
      writeUnits: actionsPerContainerTick * actionWru,
      sqsRequests: actionsPerContainerTick * 3 * sqsRequests(s.order),
      logBytes: 0,
    },
    perTick: {
      readUnits:
        (readUnits(2000, 'eventual') + readUnits(6000, 'eventual') + readUnits(3000, 'eventual')) /
        ticksPerMinute,
      writeUnits: 0,
      logBytes: 100,
    },
    perHostMonth: {
      sqsRequests: SECONDS_PER_MONTH / LONG_POLL_SECONDS,
      writeUnits: SECONDS_PER_MONTH / 60,
      logBytes: 0,
    },
    functions: [controlTickWaiting(128), sweep()],
  };
}

/** The control tick: started once a minute, ticking every 10 s inside, billed for the whole minute. */
function controlTickWaiting(memoryMiB: number): FunctionUsage {
  return {
    name: 'control-tick',
    memoryMiB,
    arch: 'arm64',
    invocationsPerMonth: MINUTES_PER_MONTH,
    billedSecondsPerInvocation: 60,
    scheduledPerMonth: MINUTES_PER_MONTH,
  };
}

/** The sanity sweep: once a minute, about a second of work. */
function sweep(): FunctionUsage {
  return {
    name: 'sanity-sweep',
    memoryMiB: 128,
    arch: 'arm64',
    invocationsPerMonth: MINUTES_PER_MONTH,
    billedSecondsPerInvocation: 1,
    scheduledPerMonth: MINUTES_PER_MONTH,
  };
}
