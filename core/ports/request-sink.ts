import type { HostState } from '../contracts/host.ts';
import type { ScaleRequest } from '../contracts/request.ts';

export interface RejectedRequest {
  id: string;
  reason: string;
}

export interface SubmitResult {
  /** Requests that became committed changes (possibly partial). */
  accepted: number;
  rejected: RejectedRequest[];
  /** Orders sent to host queues. */
  orders: number;
}

/** What a producer already knows about the requests' structures (it spares the planner reads). */
export interface SubmitHints {
  /**
   * The host the producer saw each container on (container → host), e.g. the control tick's host
   * reads. A hint is checked against the host's state like a cached location: a container no longer
   * on that host is located again.
   */
  hostOf?: ReadonlyMap<string, string>;
  /**
   * Host states the producer has just read, by name: planned from instead of read again. One that is
   * stale costs its host a refused conditional commit and a re-plan from the fresh state, as a race.
   */
  hosts?: ReadonlyMap<string, HostState>;
}

/**
 * Where scaling requests go: the planner. Producers (Guardian tick, API manual
 * requests, ReBalancer) depend on this port only.
 */
export interface RequestSink {
  submit(requests: readonly ScaleRequest[], now: number, hints?: SubmitHints): Promise<SubmitResult>;
}
