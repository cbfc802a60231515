/**
 * The sanity sweep's checks, pure: each takes state and `now` and returns
 * findings (and, where a repair is safe, the repaired value).
 */

import type { HostCapacity, HostState } from '../contracts/host.ts';
import { own } from '../contracts/keyed.ts';
import type { AgentHeartbeat, AgentReport, HostTopologyReport } from '../contracts/report.ts';
import type { Rule } from '../contracts/rule.ts';
import type { GuardianConfig } from '../contracts/service-config.ts';
import type { Container } from '../contracts/structure.ts';
import type { Resource } from '../contracts/units.ts';
import { RuleCheckCache } from './rule-check.ts';

// ── agents ───────────────────────────────────────────────────────────────────

export interface AgentLiveness {
  host: string;
  /** 'mark': silent for longer than the timeout, host not yet degraded; 'clear': heard from again, still degraded. */
  action: 'mark' | 'clear';
  /** Seconds since the last sign of life (heartbeat or report); null when the agent never wrote. */
  ageS: number | null;
}

/**
 * An agent's last sign of life: the newer of its heartbeat and its newest report
 * (`appliedAt`); null when it has written neither. The agent skips a heartbeat
 * when a report landed within the heartbeat period (host-agent/liveness.ts),
 * so both prove it alive.
 */
export function lastSignOfLife(
  heartbeat: Pick<AgentHeartbeat, 'at' | 'periodS'> | null,
  reports: Iterable<Pick<AgentReport, 'appliedAt'>>,
): SignOfLife | null {
  let at = heartbeat?.at ?? null;
  for (const r of reports) if (at === null || r.appliedAt > at) at = r.appliedAt;
  if (at === null) return null;
  return heartbeat?.periodS === undefined ? { at } : { at, periodS: heartbeat.periodS };
}

/** When an agent was last heard from, and the heartbeat period it announced (older agents: none). */
export interface SignOfLife {
  at: number;
  periodS?: number;
}

/**
 * `life`: the agent's last sign of life (lastSignOfLife), null when it never wrote. It is
 * silent after max(timeoutS, two of its heartbeat periods): a HEARTBEAT_TIMEOUT set under the
 * agents' period would otherwise mark every idle host degraded, and the planner would stop
 * scaling its containers up.
 */
export function checkAgentLiveness(
  host: Pick<HostState, 'name' | 'degraded'>,
  life: SignOfLife | null,
  now: number,
  timeoutS: number,
): AgentLiveness | null {
  const ageS = life === null ? null : Math.max(0, (now - life.at) / 1000);
  const stale = ageS === null || ageS > Math.max(timeoutS, 2 * (life?.periodS ?? 0));
  if (stale && !host.degraded) return { host: host.name, action: 'mark', ageS };
  if (!stale && host.degraded) return { host: host.name, action: 'clear', ageS };
  return null;
}

// ── desired vs applied ──────────────────────────────────────────────────────

export interface Lagging {
  host: string;
  container: string;
  desiredVersion: number;
  appliedVersion: number | null;
  lagS: number;
}

/**
 * Containers whose applied version is behind the desired one for longer than
 * `resendAfterS` (an order was lost, expired or never delivered).
 */
export function findLagging(
  host: Pick<HostState, 'name' | 'containers'>,
  applied: ReadonlyMap<string, Pick<AgentReport, 'appliedVersion'>>,
  now: number,
  resendAfterS: number,
): Lagging[] {
  const out: Lagging[] = [];
  for (const c of Object.values(host.containers)) {
    if (c.desiredVersion === 0) continue;
    const report = applied.get(c.name) ?? null;
    const appliedVersion = report?.appliedVersion ?? null;
    if (appliedVersion !== null && appliedVersion >= c.desiredVersion) continue;
    const lagS = (now - c.desiredAt) / 1000;
    if (lagS <= resendAfterS) continue;
    out.push({ host: host.name, container: c.name, desiredVersion: c.desiredVersion, appliedVersion, lagS });
  }
  return out.sort((a, b) => a.container.localeCompare(b.container));
}

export interface Ahead {
  host: string;
  container: string;
  desiredVersion: number;
  appliedVersion: number;
}

/**
 * Containers whose applied version is above the desired one: an order the
 * platform never committed was applied (a hand-made order, a refused absurd one).
 * Every later order would look stale to the agent, so the container would be
 * frozen; `raiseDesired` repairs it.
 */
export function findAhead(
  host: Pick<HostState, 'name' | 'containers'>,
  applied: ReadonlyMap<string, Pick<AgentReport, 'appliedVersion'>>,
): Ahead[] {
  const out: Ahead[] = [];
  for (const c of Object.values(host.containers)) {
    const a = applied.get(c.name)?.appliedVersion ?? null;
    if (a !== null && a > c.desiredVersion)
      out.push({ host: host.name, container: c.name, desiredVersion: c.desiredVersion, appliedVersion: a });
  }
  return out.sort((a, b) => a.container.localeCompare(b.container));
}

/**
 * The host with each ahead container's desired version raised just above its applied
 * one (same limits, `desiredAt` kept so the lag check re-sends it at once).
 */
export function raiseDesired(host: HostState, ahead: readonly Ahead[]): HostState {
  if (ahead.length === 0) return host;
  const containers = { ...host.containers };
  for (const a of ahead) {
    const c = own(containers, a.container);
    if (c !== undefined) containers[a.container] = { ...c, desiredVersion: a.appliedVersion + 1 };
  }
  return { ...host, containers, version: host.version + 1 };
}

// ── host accounting ─────────────────────────────────────────────────────────

export interface AccountingIssue {
  /** e.g. 'cpu.free', 'mem.free', 'disks.ssd0.freeRead', 'cpu.cores.3.free', 'cpu.cores.3.alloc.ghost' */
  field: string;
  stored: number | null;
  expected: number | null;
  /** Whether the repaired capacity fixes it (false: reported only, e.g. an over-commit). */
  repairable: boolean;
  text: string;
}

export interface AccountingCheck {
  issues: AccountingIssue[];
  /** The capacity with every repairable issue fixed; null when nothing needed repair. */
  repaired: HostCapacity | null;
}

function allocated(containers: readonly Container[], res: Resource, disk?: string): number {
  return containers
    .filter((c) => disk === undefined || c.disk?.name === disk)
    .reduce((s, c) => s + (c.resources[res]?.current ?? 0), 0);
}

/**
 * Compare the host's free capacity with its max minus the sum of its
 * containers' allocations, per resource and per disk, and each core's free
 * shares with 100 minus what is allocated on it (pinned hosts). Pinned hosts also check that
 * each container's shares over the cores add up to its cpu allocation
 * (reported only: re-placing cores is the planner's job).
 */
export function checkHostAccounting(
  host: Pick<HostState, 'capacity' | 'containers' | 'cpuPlacement'>,
): AccountingCheck {
  const containers = Object.values(host.containers);
  const repaired: HostCapacity = structuredClone(host.capacity);
  const issues: AccountingIssue[] = [];
  const scalar = (field: string, stored: number, max: number, used: number, set: (v: number) => void) => {
    const expected = max - used;
    if (stored === expected) return;
    const repairable = expected >= 0;
    if (repairable) set(expected);
    issues.push({
      field,
      stored,
      expected,
      repairable,
      text: repairable
        ? `${field} is ${stored}, but max ${max} − allocated ${used} = ${expected}`
        : `over-committed: ${field} max ${max} < allocated ${used}`,
    });
  };
  const cap = host.capacity;
  scalar('cpu.free', cap.cpu.free, cap.cpu.max, allocated(containers, 'cpu'), (v) => {
    repaired.cpu.free = v;
  });
  scalar('mem.free', cap.mem.free, cap.mem.max, allocated(containers, 'mem'), (v) => {
    repaired.mem.free = v;
  });
  for (const [name, d] of Object.entries(cap.disks)) {
    const rd = own(repaired.disks, name);
    if (rd === undefined) continue;
    scalar(`disks.${name}.freeRead`, d.freeRead, d.maxRead, allocated(containers, 'disk_read', name), (v) => {
      rd.freeRead = v;
    });
    scalar(
      `disks.${name}.freeWrite`,
      d.freeWrite,
      d.maxWrite,
      allocated(containers, 'disk_write', name),
      (v) => {
        rd.freeWrite = v;
      },
    );
  }
  if (cap.net !== null && repaired.net !== null) {
    const rn = repaired.net;
    scalar('net.free', cap.net.free, cap.net.max, allocated(containers, 'net'), (v) => {
      rn.free = v;
    });
  }
  const known = new Set(containers.map((c) => c.name));
  const perContainer = new Map<string, number>();
  // The core map means something only when containers are pinned (as the planner keeps it).
  const coreMap = host.cpuPlacement === 'pinned' ? Object.entries(cap.cpu.cores) : [];
  for (const [id, core] of coreMap) {
    const rc = own(repaired.cpu.cores, id);
    if (rc === undefined) continue;
    for (const [who, shares] of Object.entries(core.alloc)) {
      if (known.has(who)) {
        perContainer.set(who, (perContainer.get(who) ?? 0) + shares);
        continue;
      }
      delete rc.alloc[who];
      issues.push({
        field: `cpu.cores.${id}.alloc.${who}`,
        stored: shares,
        expected: null,
        repairable: true,
        text: `core ${id} holds ${shares} shares for ${who}, which is not on this host`,
      });
    }
    const used = Object.values(rc.alloc).reduce((s, v) => s + v, 0);
    scalar(`cpu.cores.${id}.free`, core.free, 100, used, (v) => {
      rc.free = v;
    });
  }
  if (host.cpuPlacement === 'pinned' && Object.keys(cap.cpu.cores).length > 0) {
    for (const c of containers) {
      const want = c.resources.cpu?.current ?? 0;
      const have = perContainer.get(c.name) ?? 0;
      if (want !== have)
        issues.push({
          field: `cpu.cores[*].alloc.${c.name}`,
          stored: have,
          expected: want,
          repairable: false,
          text: `${c.name} holds ${have} shares over its cores but its cpu allocation is ${want}`,
        });
    }
  }
  return { issues, repaired: issues.some((i) => i.repairable) ? repaired : null };
}

// ── rules ───────────────────────────────────────────────────────────────────

export interface RuleFinding {
  rule: string;
  text: string;
}

/** The shape of a rule reachability check. */
export type RuleCheck = (rules: readonly Rule[], config: GuardianConfig) => RuleFinding[];

/** Memo of the pure check: an unchanged rule keeps its last result across sweeps of a warm instance. */
const lastChecks = new RuleCheckCache();

/**
 * Every stored rule through the Guardian's load-time check (schema, operators,
 * variables, reachability within EVENT_TIMEOUT — the original Sanity
 * Checker's `events_to_remove × WINDOW_TIMELAPSE > EVENT_TIMEOUT` among them).
 * Inactive rules are checked too: they would fail the day they are switched on.
 */
export const ruleFindings: RuleCheck = (rules, config) => {
  const out: RuleFinding[] = [];
  for (const r of rules) {
    const res = lastChecks.check(r, config);
    if (!res.ok)
      out.push({
        rule: r.name,
        text: `rule ${r.name}: ${res.field === '' ? '' : `${res.field}: `}${res.message}`,
      });
  }
  return out;
};

// ── service heartbeats ──────────────────────────────────────────────────────

/**
 * Whether an active service's heartbeat is stale: none at all, or older than three
 * of its periods (POLLING_FREQUENCY or WINDOW_TIMELAPSE, s) and never under three
 * minutes (its schedule fires once a minute). An inactive service is never stale.
 */
export function serviceHeartbeatStale(config: unknown, heartbeat: number | null, now: number): boolean {
  const c = (config ?? {}) as { ACTIVE?: unknown; POLLING_FREQUENCY?: unknown; WINDOW_TIMELAPSE?: unknown };
  if (c.ACTIVE === false) return false;
  if (heartbeat === null) return true;
  const period =
    typeof c.POLLING_FREQUENCY === 'number'
      ? c.POLLING_FREQUENCY
      : typeof c.WINDOW_TIMELAPSE === 'number'
        ? c.WINDOW_TIMELAPSE
        : 60;
  return now - heartbeat > Math.max(3 * period, 180) * 1000;
}

/**
 * How the registered capacity differs from what the agent reported, in words (empty: they agree).
 * CPUs must match id for id (socket and core too); registered memory above the reported is an
 * over-commit waiting to happen (below it is a reservation for the host, and fine). Pure.
 */
export function topologyMismatch(
  registered: { cpus: readonly { id: string; socket: number; core: number }[]; memMiB: number },
  reported: Pick<HostTopologyReport, 'cpus' | 'memMiB'>,
): string[] {
  const out: string[] = [];
  const key = (c: { id: string; socket: number; core: number }) => `${c.id}@${c.socket}/${c.core}`;
  const reg = new Set(registered.cpus.map(key));
  const rep = new Set(reported.cpus.map(key));
  const onlyReg = [...reg].filter((k) => !rep.has(k));
  const onlyRep = [...rep].filter((k) => !reg.has(k));
  if (onlyReg.length > 0 || onlyRep.length > 0)
    out.push(
      `cpus registered ${registered.cpus.length}, reported ${reported.cpus.length}` +
        (onlyReg.length > 0 ? `; registered only: ${onlyReg.join(' ')}` : '') +
        (onlyRep.length > 0 ? `; reported only: ${onlyRep.join(' ')}` : '') +
        ' (cpu id@socket/core)',
    );
  if (registered.memMiB > reported.memMiB)
    out.push(`memory registered ${registered.memMiB} MiB is above the ${reported.memMiB} MiB the host has`);
  return out;
}
