import type { Resource } from '../contracts/units.ts';

/** A usage window in whole epoch seconds, [startS, endS]. */
export interface UsageWindow {
  startS: number;
  endS: number;
}

export interface UsageQuery {
  /** Structure names (container names, or application names). */
  structures: readonly string[];
  kind: 'container' | 'application';
  resources: readonly Resource[];
  window: UsageWindow;
}

/**
 * Why a source has no usage for something: `unknown` = the backend never saw the name (a
 * container that never reported, an unregistered metric); `outage` = the backend did not answer
 * usefully (timeout, refused connection, 5xx, no time left); `bad-data` = it answered values
 * that cannot be usage.
 */
export type RejectionKind = 'unknown' | 'outage' | 'bad-data';

/** Something the source could not use, per structure (counted and logged by the caller). */
export interface UsageRejection {
  structure: string | null;
  metric: string;
  why: string;
  kind?: RejectionKind;
}

export interface UsageResult {
  /** Usage per structure and resource over the window; null = no data. Every asked structure is present. */
  usage: Map<string, Partial<Record<Resource, number | null>>>;
  /** Backend requests made (the per-tick figure), retries included. */
  queries: number;
  /** Request body bytes sent, as sent (compressed when compressed); sources that do not count leave it out. */
  bytes?: number;
  rejected: UsageRejection[];
}

/** Where the Guardian reads usage from: BDWatchdog's OpenTSDB, or a Prometheus-API store. */
export interface MetricsSource {
  usage(query: UsageQuery, call?: UsageCallOptions): Promise<UsageResult>;
}

/**
 * The caller's bounds on one `usage` call: no request starts, and none is retried, past
 * `timeLeftMs` from the call (the invocation's remaining time, the tick's own budget); `signal`
 * cancels what is in flight. What could not be asked in time comes back as `outage` rejections.
 */
export interface UsageCallOptions {
  signal?: AbortSignal;
  timeLeftMs?: number;
}

/** The window the original reads: [now − delay − timelapse, now − delay], whole seconds. */
export function usageWindow(nowMs: number, timelapseS: number, delayS: number): UsageWindow {
  const nowS = Math.floor(nowMs / 1000);
  return { startS: nowS - delayS - timelapseS, endS: nowS - delayS };
}
