/**
 * Ports owned by the operations use cases (ReBalancer, snapshoter, sanity
 * sweep, report). Narrow on purpose: adapters in adapters/metrics/ fill them.
 * Usage comes through the shared MetricsSource (core/ports/metrics-source.ts).
 */

/** One time-series point as OpenTSDB takes it. */
export interface Point {
  metric: string;
  /** Epoch milliseconds. */
  timestamp: number;
  value: number;
  tags: Record<string, string>;
}

/** Where state snapshots go (OpenTSDB /api/put or a compatible store). */
export interface PointSink {
  put(points: readonly Point[]): Promise<void>;
}

export interface Sample {
  /** Epoch milliseconds. */
  t: number;
  v: number;
}

/** Raw samples of one series over [fromMs, toMs], for reports. */
export interface SeriesSource {
  samples(metric: string, tags: Record<string, string>, fromMs: number, toMs: number): Promise<Sample[]>;
  /** Values of `tag` present on `metric` in the range (e.g. every structure that has snapshots). */
  tagValues(metric: string, tag: string, fromMs: number, toMs: number): Promise<string[]>;
}
