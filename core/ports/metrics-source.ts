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

/** Something the source could not use, per structure (counted and logged by the caller). */
export interface UsageRejection {
  structure: string | null;
  metric: string;
  why: string;
}

export interface UsageResult {
  /** Usage per structure and resource over the window; null = no data. Every asked structure is present. */
  usage: Map<string, Partial<Record<Resource, number | null>>>;
  /** Backend requests made (the per-tick figure). */
  queries: number;
  rejected: UsageRejection[];
}

/** Where the Guardian reads usage from: BDWatchdog's OpenTSDB, or a Prometheus-API store. */
export interface MetricsSource {
  usage(query: UsageQuery): Promise<UsageResult>;
}

/** The window the original reads: [now − delay − timelapse, now − delay], whole seconds. */
export function usageWindow(nowMs: number, timelapseS: number, delayS: number): UsageWindow {
  const nowS = Math.floor(nowMs / 1000);
  return { startS: nowS - delayS - timelapseS, endS: nowS - delayS };
}
