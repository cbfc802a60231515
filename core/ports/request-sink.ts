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

/**
 * Where scaling requests go: the planner. Producers (Guardian tick, API manual
 * requests, ReBalancer) depend on this port only.
 */
export interface RequestSink {
  submit(requests: readonly ScaleRequest[], now: number): Promise<SubmitResult>;
}
