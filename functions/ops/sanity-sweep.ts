/**
 * The sanity sweep: keeps the system honest, periodically.
 * - rules that can never fire under the current Guardian config;
 * - agents silent for longer than HEARTBEAT_TIMEOUT (no heartbeat and no
 *   report: lastSignOfLife) → host marked degraded (the planner plans no
 *   scale-ups there), cleared when the agent is heard from again;
 * - host accounting that disagrees with the sum of the containers'
 *   allocations → reported and repaired;
 *   (both host changes go in one conditional write on the host's version;
 *   a lost race re-reads the host and checks again)
 * - containers whose applied version trails the desired one → order re-sent.
 * Every finding is logged and recorded as an activity line of kind 'finding'
 * on the structure it concerns (host, container or rule), for `sc status` — a
 * finding only reported (nothing done) and unchanged since this process last
 * recorded it is recorded again once per FINDING_REPEAT_MS, not every round: a
 * rule that can never fire would otherwise write a line a minute for as long
 * as it is stored (≈ 10,000 over the activity retention).
 */
import { recordActivity } from '../../adapters/dynamodb/activity.ts';
import {
  body,
  type HostView,
  readFleet,
  serviceConfig,
  writeHostState,
} from '../../adapters/dynamodb/fleet.ts';
import { readShards, shardLeases } from '../../adapters/dynamodb/guardian-store.ts';
import type { TableClient } from '../../adapters/dynamodb/table-client.ts';
import type { Logger } from '../../adapters/logger.ts';
import { type HostState, HostState as HostStateSchema } from '../../core/contracts/host.ts';
import { StaleStateError } from '../../core/errors.ts';
import {
  type AccountingIssue,
  type AgentLiveness,
  checkAgentLiveness,
  checkHostAccounting,
  findAhead,
  findLagging,
  type Lagging,
  lastSignOfLife,
  type RuleCheck,
  raiseDesired,
  type SignOfLife,
  topologyMismatch,
} from '../../core/policy/sanity-findings.ts';
import { staleShards } from '../../core/policy/shards.ts';
import type { Clock } from '../../core/ports/clock.ts';
import { countDeadLettered, type DeadLetterCount, deadLetterCountDue } from './dead-letters.ts';
import type { ResendStep } from './resend.ts';

export interface SanityDeps {
  table: TableClient;
  clock: Clock;
  logger: Logger;
  /** Rule check (ruleFindings: core/policy/rule-check.ts over every rule). */
  checkRules: RuleCheck;
  /** Re-sends the orders of lagging containers (resendWith: functions/scaler/resend.ts). */
  resend: ResendStep;
  /**
   * When this process last recorded each reported finding (check, structure, text), kept between
   * rounds by the builder; without it every finding is recorded every round.
   */
  recorded?: Map<string, number>;
  /** Reads a host's dead-letter queue (functions/ops/dead-letters.ts), every DEAD_LETTER_PERIOD; absent: never. */
  deadLetters?: DeadLetterCount;
}

/** An unchanged reported finding is recorded again at most this often (it is logged every round). */
export const FINDING_REPEAT_MS = 3_600_000;

export type FindingCheck = 'rule' | 'agent' | 'accounting' | 'lagging' | 'schema' | 'topology' | 'shard';

export interface Finding {
  check: FindingCheck;
  structure: string;
  text: string;
  /** What the sweep did about it. */
  action: 'reported' | 'marked-degraded' | 'cleared-degraded' | 'repaired' | 'resent' | 'resend-failed';
}

export interface SanityResult {
  skipped: boolean;
  findings: Finding[];
  /** Orders waiting on the hosts' dead-letter queues (the OrdersDeadLettered metric); null: not counted this sweep. */
  deadLettered: number | null;
}

const MAX_HOST_ATTEMPTS = 3;

export async function sanitySweep(deps: SanityDeps): Promise<SanityResult> {
  // Eventually consistent (half the read units), which every check allows: liveness compares a
  // heartbeat against a timeout of minutes; a repair is a conditional write on the host's version
  // (a stale read loses it and checks the current item again); a lag must last RESEND_AFTER, and
  // an order re-sent for a version already applied is a no-op for the agent.
  const fleet = await readFleet(deps.table, { consistent: false });
  const config = serviceConfig(fleet.services, 'sanity');
  if (!config.ACTIVE) return { skipped: true, findings: [], deadLettered: null };
  const now = deps.clock.now();
  const findings: Finding[] = [];

  for (const f of deps.checkRules(fleet.rules, serviceConfig(fleet.services, 'guardian')))
    findings.push({ check: 'rule', structure: f.rule, text: f.text, action: 'reported' });

  findings.push(
    ...(await shardFindings(deps, now, serviceConfig(fleet.services, 'guardian').WINDOW_TIMELAPSE)),
  );

  for (const bad of fleet.invalid)
    findings.push({
      check: 'schema',
      structure: safeStructure(bad.pk),
      text: `item ${bad.pk}/${bad.sk} does not match its schema: ${bad.error}`,
      action: 'reported',
    });

  const lagging: Lagging[] = [];
  for (const host of fleet.hosts) {
    const swept = await sweepHost(deps, host, now, config.HEARTBEAT_TIMEOUT);
    findings.push(...swept.findings);
    if (
      host.state.degraded ||
      checkAgentLiveness(host.state, signOfLife(host), now, config.HEARTBEAT_TIMEOUT)?.action === 'mark'
    ) {
      // A dead agent would not read a re-sent order; it reconciles when it comes back.
      continue;
    }
    lagging.push(...findLagging(swept.state, host.applied, now, config.RESEND_AFTER));
  }

  if (lagging.length > 0) {
    const outcomes = await deps.resend(lagging, fleet.hosts, now, {
      RESEND_AFTER: config.RESEND_AFTER,
      ORDER_TTL: serviceConfig(fleet.services, 'scaler').ORDER_TTL,
    });
    const byContainer = new Map(outcomes.map((o) => [o.container, o]));
    for (const lag of lagging) {
      const o = byContainer.get(lag.container);
      const applied = lag.appliedVersion === null ? 'nothing applied' : `applied v${lag.appliedVersion}`;
      findings.push({
        check: 'lagging',
        structure: lag.container,
        text: `${lag.container} on ${lag.host}: desired v${lag.desiredVersion}, ${applied}, for ${Math.round(lag.lagS)} s${o?.sent === true ? ': order re-sent' : `: re-send failed (${o?.error ?? 'not attempted'})`}`,
        action: o?.sent === true ? 'resent' : 'resend-failed',
      });
    }
  }

  forgetOld(deps.recorded, now);
  for (const f of findings) {
    deps.logger.warn({ check: f.check, structure: f.structure, action: f.action }, f.text);
    if (!recordDue(deps.recorded, f, now)) continue;
    await recordActivity(deps.table, {
      structure: f.structure,
      at: now,
      kind: 'finding',
      resource: null,
      text: f.text,
      reasons: [{ source: 'sanity', text: f.text }],
      data: { check: f.check, action: f.action },
    });
  }
  const dead =
    deps.deadLetters !== undefined &&
    deadLetterCountDue(now, config.DEAD_LETTER_PERIOD, config.POLLING_FREQUENCY)
      ? await countDeadLettered(fleet.hosts, deps.deadLetters, deps.logger)
      : null;
  deps.logger.info({ findings: findings.length, hosts: fleet.hosts.length }, 'sanity sweep done');
  return { skipped: false, findings, deadLettered: dead?.total ?? null };
}

/** The newer of the agent's heartbeat and its newest report on this host, with the agent's period. */
function signOfLife(view: HostView): SignOfLife | null {
  return lastSignOfLife(
    view.heartbeat,
    [...view.applied.values()].filter((r) => r.host === view.state.name),
  );
}

/**
 * Liveness, accounting and versions ahead of desired of one host, committed in one
 * versioned write; retried on a lost race. Returns the host as it now stands.
 */
async function sweepHost(
  deps: SanityDeps,
  view: HostView,
  now: number,
  timeoutS: number,
): Promise<{ findings: Finding[]; state: HostState }> {
  let state: HostState = view.state;
  for (let attempt = 1; ; attempt++) {
    const liveness = checkAgentLiveness(state, signOfLife(view), now, timeoutS);
    const accounting = checkHostAccounting(state);
    const ahead = findAhead(state, view.applied);
    const findings = [
      ...hostFindings(state.name, liveness, accounting.issues),
      ...topologyFindings(state, view),
    ];
    for (const a of ahead)
      findings.push({
        check: 'lagging',
        structure: a.container,
        text: `${a.container} on ${a.host}: applied v${a.appliedVersion} is ahead of desired v${a.desiredVersion}; desired raised to v${a.appliedVersion + 1}`,
        action: 'repaired',
      });
    if (liveness === null && accounting.repaired === null && ahead.length === 0) return { findings, state };
    const raised = raiseDesired(state, ahead);
    const next: HostState = {
      ...raised,
      version: state.version + 1,
      degraded: liveness === null ? state.degraded : liveness.action === 'mark',
      capacity: accounting.repaired ?? state.capacity,
    };
    try {
      await writeHostState(deps.table, next, state.version);
      return { findings, state: next };
    } catch (err) {
      if (!(err instanceof StaleStateError) || attempt >= MAX_HOST_ATTEMPTS) throw err;
      const current = err.current as Record<string, unknown> | null;
      if (current === null) return { findings: [], state };
      state = HostStateSchema.parse(body(current));
      deps.logger.info(
        { host: state.name, version: state.version },
        'host changed during the sweep; checking again',
      );
    }
  }
}

function hostFindings(
  host: string,
  liveness: AgentLiveness | null,
  issues: readonly AccountingIssue[],
): Finding[] {
  const out: Finding[] = [];
  if (liveness !== null) {
    const age =
      liveness.ageS === null
        ? 'never heard from'
        : `last heartbeat or report ${Math.round(liveness.ageS)} s ago`;
    out.push(
      liveness.action === 'mark'
        ? {
            check: 'agent',
            structure: host,
            text: `agent of ${host} is silent (${age}): host marked degraded, no scale-ups planned there`,
            action: 'marked-degraded',
          }
        : {
            check: 'agent',
            structure: host,
            text: `agent of ${host} is back (${age}): degraded mark cleared`,
            action: 'cleared-degraded',
          },
    );
  }
  for (const i of issues)
    out.push({
      check: 'accounting',
      structure: host,
      text: `${host} accounting: ${i.text}${i.repairable ? ' (repaired)' : ''}`,
      action: i.repairable ? 'repaired' : 'reported',
    });
  return out;
}

/** The registered capacity against the topology the host's agent reported at start (nothing to do but say so). */
function topologyFindings(state: HostState, view: HostView): Finding[] {
  const reported = view.heartbeat?.topology;
  if (reported === undefined) return [];
  const registered = { cpus: state.capacity.cpu.topology, memMiB: state.capacity.mem.max };
  return topologyMismatch(registered, reported).map((text) => ({
    check: 'topology',
    structure: state.name,
    text: `${state.name} registered topology differs from its agent's report: ${text}`,
    action: 'reported',
  }));
}

/**
 * Shard chains of a sharded control tick (a shard record stored) whose last tick is old: each is
 * reported on its own (the watchdog restarts it; the other shards go on).
 */
async function shardFindings(deps: SanityDeps, now: number, windowS: number): Promise<Finding[]> {
  const record = await readShards(deps.table);
  if (record.current.gen === 0) return [];
  const windowMs = windowS * 1000;
  const stale = staleShards(
    record.current,
    await shardLeases(deps.table, record.current, { oneByOne: true }),
    now,
    windowMs,
  );
  if (record.previous !== null)
    stale.push(
      ...staleShards(
        record.previous,
        await shardLeases(deps.table, record.previous, { oneByOne: true }),
        now,
        windowMs,
        record.current.from,
      ),
    );
  return stale.map((s) => ({
    check: 'shard',
    structure: 'control-tick',
    text: `control-tick shard ${s.shard} of generation ${s.gen}: ${s.lastAt === null ? 'never ticked' : 'last tick'} ${Math.round(s.ageS)} s ago (the watchdog restarts its chain)`,
    action: 'reported',
  }));
}

function safeStructure(pk: string): string {
  const name = pk.includes('#') ? pk.slice(pk.indexOf('#') + 1) : pk;
  return /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(name) ? name : 'state';
}

/** Whether to record `f` now: anything done always; a reported finding when new, changed or FINDING_REPEAT_MS old. */
function recordDue(recorded: Map<string, number> | undefined, f: Finding, now: number): boolean {
  if (recorded === undefined || f.action !== 'reported') return true;
  const key = `${f.check}\u0000${f.structure}\u0000${f.text}`;
  const at = recorded.get(key);
  if (at !== undefined && now - at < FINDING_REPEAT_MS) return false;
  recorded.set(key, now);
  return true;
}

/** Entries past the repeat interval carry nothing: dropped, so the map holds one round's findings at most. */
function forgetOld(recorded: Map<string, number> | undefined, now: number): void {
  if (recorded === undefined) return;
  for (const [key, at] of recorded) if (now - at >= FINDING_REPEAT_MS) recorded.delete(key);
}
