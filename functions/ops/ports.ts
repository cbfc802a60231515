/**
 * Ports owned by the operations use cases (ReBalancer, snapshoter, sanity
 * sweep, report). Narrow on purpose: adapters in adapters/metrics/ fill them.
 */
import type { UsageMap } from '../../core/contracts/structure.ts';
import type { Resource } from '../../core/contracts/units.ts';

/** Mean usage of many containers over one window, one batched read. Missing container = no data. */
export interface UsageSource {
  usage(
    containers: readonly string[],
    resources: readonly Resource[],
    window: { startMs: number; endMs: number },
  ): Promise<Map<string, UsageMap>>;
}

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
