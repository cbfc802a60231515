/**
 * What the API's routes need, as narrow ports owned here. The handler and
 * the local server wire the real adapters; tests may swap single ports.
 */
import type { HostState } from '../../core/contracts/host.ts';
import type { ScaleOrder } from '../../core/contracts/order.ts';
import type { Rule } from '../../core/contracts/rule.ts';
import type { GuardianConfig, ServiceDoc, ServiceName } from '../../core/contracts/service-config.ts';
import type { Container } from '../../core/contracts/structure.ts';
import type { Clock } from '../../core/ports/clock.ts';
import type { RequestSink } from '../../core/ports/request-sink.ts';
import type { ApiStore } from './store.ts';

export type AdmitResult =
  | { ok: true; host: HostState; order: ScaleOrder }
  | { ok: false; field: string; reason: string };
export type ReleaseResult = { ok: true; host: HostState } | { ok: false; reason: string };

/** The planner's admission (core/policy/planner/admission.ts): placement and capacity, pure. */
export interface Admission {
  admitContainer(host: HostState, container: Container, now: number): AdmitResult;
  releaseContainer(host: HostState, name: string): ReleaseResult;
}

export type RuleCheck = { ok: true; rule: Rule } | { ok: false; field: string; message: string };
/** The Guardian's rule checker (core/policy/rule-check.ts): schema, variables, reachability. */
export type CheckRule = (rule: Rule, guardian: GuardianConfig) => RuleCheck;

export interface RuleStore {
  list(): Promise<Rule[]>;
  get(name: string): Promise<Rule | null>;
  put(rule: Rule): Promise<void>;
  remove(name: string): Promise<void>;
}

export interface ServiceStore {
  list(): Promise<ServiceDoc[]>;
  get(name: ServiceName): Promise<ServiceDoc | null>;
  /** Store the whole config; expectedVersion null = only if absent. StaleStateError on a lost race. */
  putConfig(
    name: ServiceName,
    config: Record<string, unknown>,
    expectedVersion: number | null,
  ): Promise<ServiceDoc>;
}

export interface HostQueuesPort {
  /** Create (or find) the host's order queue and DLQ; idempotent. */
  ensure(host: string): Promise<{ queueUrl: string }>;
  remove(host: string): Promise<void>;
  send(queueUrl: string, order: ScaleOrder): Promise<void>;
}

export interface ApiDeps {
  store: ApiStore;
  queues: HostQueuesPort;
  admission: Admission;
  checkRule: CheckRule;
  rules: RuleStore;
  services: ServiceStore;
  requests: RequestSink;
  clock: Clock;
  newId(): string;
}
