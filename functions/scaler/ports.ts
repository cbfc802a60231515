/** Ports the Scaler's use cases consume (implemented by adapters/dynamodb/scaler-store.ts and SQS). */
import type { Activity } from '../../core/contracts/activity.ts';
import type { HostState } from '../../core/contracts/host.ts';
import type { ScaleOrder } from '../../core/contracts/order.ts';
import type { Application } from '../../core/contracts/structure.ts';

export interface PlannerState {
  getHost(name: string): Promise<HostState | null>;
  /** The host a container lives on; null if unknown. */
  locateContainer(name: string): Promise<string | null>;
  getApplication(name: string): Promise<Application | null>;
  /** Conditional write on `expectedVersion`; a lost race throws StaleStateError<HostState>. */
  commitHost(next: HostState, expectedVersion: number): Promise<void>;
}

/**
 * Where activity lines go. `host`: the host whose partition packs the line
 * (a container's); absent or null, the line is stored on its own.
 */
export interface ActivityLog {
  recordActivity(lines: readonly { activity: Activity; seq: string; host?: string | null }[]): Promise<void>;
}

export interface LaggingState {
  listHosts(): Promise<string[]>;
  getHostWithApplied(name: string): Promise<{ host: HostState; applied: Map<string, number> } | null>;
}

/** Sends orders to one host's queue; never throws for a failed order, counts it. */
export interface OrderSender {
  send(queueUrl: string, orders: readonly ScaleOrder[]): Promise<{ sent: number; failed: number }>;
}
