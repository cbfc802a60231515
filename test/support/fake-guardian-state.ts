/**
 * In-memory fake of the Guardian's ports (GuardianState, TickLease), as strict
 * as the table adapter: guard writes are conditional on the version
 * (StaleStateError carrying nothing stored), stored rules are checked against
 * the config as the adapter checks them, a stored guard state or host state
 * that its schema refuses is a problem, and every call is counted as the
 * adapter's requests are (a batch is one read).
 */
import type { Activity } from '../../core/contracts/activity.ts';
import { GuardState } from '../../core/contracts/guard-state.ts';
import { HostState } from '../../core/contracts/host.ts';
import type { Rule } from '../../core/contracts/rule.ts';
import type { GuardianConfig } from '../../core/contracts/service-config.ts';
import type { Application } from '../../core/contracts/structure.ts';
import { StaleStateError } from '../../core/errors.ts';
import { checkRule } from '../../core/policy/rule-check.ts';
import {
  type ActivityLine,
  type AppRead,
  type GuardianState,
  type GuardRead,
  type GuardRef,
  guardId,
  type HostRead,
  type Problem,
  type TickLease,
} from '../../core/ports/guardian-state.ts';

function problemOf(
  what: string,
  error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] },
) {
  const i = error.issues[0];
  return { what, field: i ? i.path.map(String).join('.') : '', message: i?.message ?? 'invalid' };
}

function parseGuard(stored: unknown, what: string): GuardRead {
  const parsed = GuardState.safeParse(stored);
  return parsed.success
    ? { state: parsed.data }
    : { problem: problemOf(`guard state ${what}`, parsed.error) };
}

export class FakeGuardianState implements GuardianState, TickLease {
  /** Stored config; null: none stored (the fallback is used). */
  config: GuardianConfig | null = null;
  /** Stored rules, as the API would store them (checked at each load). */
  rules: unknown[] = [];
  /** Stored host states (unknown: a test may store a broken one). */
  readonly hosts = new Map<string, unknown>();
  readonly applications = new Map<string, Application>();
  /** Stored guard states by guardId (unknown: a test may store a broken one). */
  readonly guards = new Map<string, unknown>();
  readonly activity: ActivityLine[] = [];
  readonly counters = { reads: 0, writes: 0 };
  /** Called before each guard write: lets a test change the stored state to lose a race. */
  beforeWrite: ((ref: GuardRef) => void) | null = null;
  lease: { owner: string; expiresAt: number; proc?: string; lastAt?: number } | null = null;

  putHost(host: HostState): void {
    this.hosts.set(host.name, structuredClone(host));
  }
  putGuard(ref: GuardRef, state: unknown): void {
    this.guards.set(guardId(ref), structuredClone(state));
  }
  guard(ref: GuardRef): GuardState | undefined {
    return this.guards.get(guardId(ref)) as GuardState | undefined;
  }
  activities(): Activity[] {
    return this.activity.map((l) => l.activity);
  }

  async loadConfig(fallback: GuardianConfig) {
    this.counters.reads += 1;
    return { config: this.config ?? fallback, problems: [] as Problem[] };
  }
  async loadRules(config: GuardianConfig) {
    this.counters.reads += 1;
    const rules: Rule[] = [];
    const problems: Problem[] = [];
    for (const stored of this.rules) {
      const checked = checkRule(stored, config);
      if (checked.ok) rules.push(checked.rule);
      else
        problems.push({
          what: `rule ${String((stored as { name?: unknown }).name)}`,
          field: checked.field,
          message: checked.message,
        });
    }
    return { rules, problems };
  }
  async listHosts() {
    this.counters.reads += 1;
    return [...this.hosts.keys()].sort();
  }
  private parseHost(name: string): { host: HostState } | { problem: Problem } | undefined {
    const stored = this.hosts.get(name);
    if (stored === undefined) return undefined;
    const parsed = HostState.safeParse(structuredClone(stored));
    return parsed.success
      ? { host: parsed.data }
      : { problem: problemOf(`host ${name} state`, parsed.error) };
  }
  /** Consistency asked of each readHost, in order ('strong' unless `consistent: false`). */
  readonly hostReads: ('strong' | 'eventual')[] = [];
  async readHost(name: string, opts: { consistent?: boolean } = {}): Promise<HostRead> {
    this.counters.reads += 1;
    this.hostReads.push(opts.consistent === false ? 'eventual' : 'strong');
    const out: HostRead = { host: null, guards: new Map(), problems: [] };
    const parsed = this.parseHost(name);
    if (parsed !== undefined && 'host' in parsed) out.host = parsed.host;
    else if (parsed !== undefined) out.problems.push(parsed.problem);
    const prefix = guardId({ host: name, structure: '' });
    for (const [id, stored] of this.guards)
      if (id.startsWith(prefix)) {
        const container = id.slice(prefix.length);
        out.guards.set(container, parseGuard(structuredClone(stored), container));
      }
    return out;
  }
  async readHostStates(names: readonly string[]) {
    this.counters.reads += 1;
    const out = new Map<string, { host: HostState } | { problem: Problem }>();
    for (const name of names) {
      const parsed = this.parseHost(name);
      if (parsed !== undefined) out.set(name, parsed);
    }
    return out;
  }
  async readGuards(refs: readonly GuardRef[]) {
    const out = new Map<string, GuardRead | null>();
    if (refs.length === 0) return out;
    this.counters.reads += 1;
    for (const ref of refs) out.set(guardId(ref), this.readStored(ref));
    return out;
  }
  private readStored(ref: GuardRef): GuardRead | null {
    const stored = this.guards.get(guardId(ref));
    return stored === undefined ? null : parseGuard(structuredClone(stored), ref.structure);
  }
  async listApplications() {
    this.counters.reads += 1;
    return [...this.applications.keys()].sort();
  }
  async readApplication(name: string): Promise<AppRead> {
    this.counters.reads += 1;
    const app = this.applications.get(name);
    return {
      app: app === undefined ? null : structuredClone(app),
      guard: this.readStored({ host: null, structure: name }),
      problems: [],
    };
  }
  async writeGuard(ref: GuardRef, state: GuardState, expectedVersion: number | null) {
    this.beforeWrite?.(ref);
    this.counters.writes += 1;
    const stored = this.guards.get(guardId(ref)) as { version?: unknown } | undefined;
    const version = stored === undefined ? null : stored.version;
    if (version !== expectedVersion)
      throw new StaleStateError(`guard state ${state.structure} changed concurrently`, null);
    this.guards.set(guardId(ref), structuredClone(state));
  }
  async readGuard(ref: GuardRef) {
    this.counters.reads += 1;
    return this.readStored(ref);
  }
  async recordActivity(lines: readonly ActivityLine[]) {
    if (lines.length === 0) return;
    this.counters.writes += 1;
    this.activity.push(...structuredClone(lines));
  }

  async takeLease(owner: string, now: number, expiresAt: number) {
    this.counters.writes += 1;
    if (this.lease !== null && this.lease.expiresAt > now && this.lease.owner !== owner) return false;
    this.lease = { owner, expiresAt };
    return true;
  }
  async releaseLease(owner: string) {
    this.counters.writes += 1;
    if (this.lease?.owner === owner) this.lease = { owner, expiresAt: 0 };
  }
  async takeChainLease(msg: { chain: string; at: number }, proc: string, now: number, windowMs: number) {
    this.counters.writes += 1;
    const l = this.lease;
    const next = { owner: msg.chain, proc, lastAt: msg.at, expiresAt: Math.max(now, msg.at) + 3 * windowMs };
    if (
      l !== null &&
      l.owner === msg.chain &&
      l.proc === proc &&
      l.lastAt !== undefined &&
      l.lastAt < msg.at
    ) {
      this.lease = next;
      return 'resume' as const;
    }
    if (
      l === null ||
      l.expiresAt <= now ||
      (l.owner === msg.chain && (l.lastAt === undefined || l.lastAt < msg.at))
    ) {
      this.lease = next;
      return 'take' as const;
    }
    return null;
  }
  async leaseExpiresAt() {
    this.counters.reads += 1;
    return this.lease?.expiresAt ?? null;
  }
  /** Last heartbeat per service. */
  readonly heartbeats = new Map<string, number>();
  async recordHeartbeat(service: 'guardian' | 'scaler', atMs: number) {
    this.counters.writes += 1;
    this.heartbeats.set(service, atMs);
  }
}
