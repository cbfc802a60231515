/** One benchmark figure, printed as one JSON line so runs can be compared. */
export interface Figure {
  /** "<group>.<figure>", e.g. "guardian.decisions_per_s" */
  name: string;
  value: number;
  unit: string;
  [extra: string]: string | number | boolean | null;
}

export type Emit = (figure: Figure) => void;

export const printFigure: Emit = (figure) => {
  process.stdout.write(`${JSON.stringify(figure)}\n`);
};

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile (p in 0–100) of a non-empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}
