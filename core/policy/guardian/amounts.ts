import type { RequestRule } from '../../contracts/rule.ts';

/** What the amount policies and trimming look at, for one resource of one structure. */
export interface AmountInputs {
  usage: number;
  current: number;
  max: number;
  min: number;
  upper: number;
  lower: number;
  margin: number;
  /**
   * The previous window's usage of the same resource (the tick before); null or
   * absent when unknown (first tick, memory lost, no data then). Only the up
   * shaping looks at it (see riseOf).
   */
  previous?: number | null;
}

/**
 * How the Guardian shapes amounts so an order is worth sending (GuardianConfig
 * SCALE_UP_FIT, SCALE_UP_GROWTH, SCALE_DOWN_MIN): see upAmount and computeAmount.
 */
export interface AmountShaping {
  /** Up, usage visible below the allocation: fit it mid-band instead of the rule's amount. */
  fit: boolean;
  /** Up, usage at the allocation: step at least this fraction of current (0 = the rule's amount alone). */
  growth: number;
  /** Scale-downs smaller than this fraction of the margin are not ordered (0 = any). */
  minDown: number;
}

/** The rules' amounts as the original framework computes them (no shaping). */
export const NO_SHAPING: AmountShaping = { fit: false, growth: 0, minDown: 0 };

export interface AmountResult {
  /** Whole units, signed; 0 means "emit nothing". */
  amount: number;
  /** Before trimming (for the reasons). */
  raw: number;
  trimmed: 'none' | 'to_min' | 'to_max' | 'wrong_direction' | 'too_small';
  /**
   * How an up rule's amount was shaped: grown (usage at its allocation), fit (usage visible, a level),
   * onset (usage visible, risen from under lower: stepped as at its allocation), or not.
   */
  shaped: 'none' | 'grown' | 'fit' | 'onset';
}

/**
 * amount: rule.amount.
 * fit_to_usage: usage + max(floor(margin/2), 1) + margin − current (puts usage mid stable band).
 * proportional: min((usage − upper)/(current − upper), 1) × rule.amount, truncated toward 0.
 */
export function rawAmount(rule: Pick<RequestRule, 'rescale_policy' | 'amount'>, x: AmountInputs): number {
  switch (rule.rescale_policy) {
    case 'amount':
      return rule.amount;
    case 'fit_to_usage':
      return Math.trunc(x.usage + Math.max(Math.floor(x.margin / 2), 1) + x.margin - x.current);
    case 'proportional': {
      // current − upper = margin ≥ 1, never 0
      const ratio = Math.min((x.usage - x.upper) / (x.current - x.upper), 1);
      return Math.trunc(ratio * rule.amount);
    }
  }
}

/**
 * Trim so the new lower stays ≥ min and the new current ≤ max (the original's
 * adjust_amount, but both checks apply), then refuse an amount that points the
 * other way than the rule scales (e.g. a scale-down whose trim turned it into
 * a scale-up): such an amount becomes 0.
 */
export function trimAmount(raw: number, direction: 'up' | 'down', x: AmountInputs): AmountResult {
  let amount = raw;
  let trimmed: AmountResult['trimmed'] = 'none';
  if (x.lower + amount < x.min) {
    amount += x.min - (x.lower + amount);
    trimmed = 'to_min';
  }
  if (x.current + amount > x.max) {
    amount = x.max - x.current;
    trimmed = 'to_max';
  }
  if ((direction === 'up' && amount < 0) || (direction === 'down' && amount > 0)) {
    return { amount: 0, raw, trimmed: 'wrong_direction', shaped: 'none' };
  }
  return { amount: amount === 0 ? 0 : amount, raw, trimmed, shaped: 'none' };
}

/**
 * Usage is "at its allocation" when it is within half a margin of current
 * (above the middle of [upper, current]): a container throttled at its quota,
 * or memory about to reach its limit. Its demand cannot be seen (usage is
 * capped by the allocation), so only a step tells how much more it needs.
 * Below that, usage is visible and is the demand.
 */
export function atAllocation(x: Pick<AmountInputs, 'usage' | 'current' | 'margin'>): boolean {
  return x.usage >= x.current - x.margin / 2;
}

/**
 * How usage came above upper, from the previous window's usage:
 * - 'level': it was already above lower (inside or above the stable band):
 *   noise around a level, and this window's mean is the demand;
 * - 'onset': it was at or under lower: a rise from below. A load that starts
 *   in the middle of a window shows only part of itself in that window's mean
 *   (a one-core job started half-way through shows half a core), so the mean
 *   understates the demand;
 * - 'unknown': no previous window (first tick of a Guardian, memory lost, no data).
 */
export function riseOf(x: Pick<AmountInputs, 'previous' | 'lower'>): 'level' | 'onset' | 'unknown' {
  const p = x.previous;
  if (p === null || p === undefined || !Number.isFinite(p) || p < 0) return 'unknown';
  return p > x.lower ? 'level' : 'onset';
}

/** The step from an allocation whose demand is unseen: max(rule.amount, ceil(current × growth)). */
function growthStep(rule: Pick<RequestRule, 'amount'>, x: AmountInputs, shaping: AmountShaping): number {
  return Math.max(rule.amount, Math.ceil(x.current * shaping.growth));
}

/**
 * The step of an up rule with the `amount` policy, shaped by what the window
 * shows:
 * - usage at its allocation (atAllocation): max(rule.amount, ceil(current × growth)) ('grown' when larger) —
 *   never less than the rule's amount, more for a large allocation (a job that
 *   needs 350 shares from 105 gets there in 2 orders at growth 1, not 4 of +75);
 * - usage visible below it (above upper, under current − margin/2), with `fit`:
 *   - a level or unknown (riseOf): the fit_to_usage amount ('fit'), which puts usage in the middle of the
 *     new stable band (upper and lower half a margin away). A fixed step larger than the
 *     margin would put usage under the new lower and so bring a scale-down 6
 *     windows later: one noisy window above upper cost two orders. Here usage
 *     is above upper = current − margin, so the fit is > margin/2 ≥ 1: still up;
 *   - an onset (previous window at or under lower): the step as at its allocation
 *     ('onset'), never less than the fit. The mean is only the part of the window the load ran:
 *     fitting it left the load throttled (at its new allocation) and a second
 *     order one window later; the step gets there in one.
 * Otherwise (usage not above upper: a rule counting older events) the rule's
 * amount. Other policies are not shaped. Knowing the previous window never
 * makes a step smaller than not knowing it (memory: never closer to an OOM).
 */
export function upAmount(
  rule: Pick<RequestRule, 'rescale_policy' | 'amount'>,
  x: AmountInputs,
  shaping: AmountShaping,
): { raw: number; shaped: AmountResult['shaped'] } {
  if (rule.rescale_policy !== 'amount') return { raw: rawAmount(rule, x), shaped: 'none' };
  if (atAllocation(x)) {
    const grown = growthStep(rule, x, shaping);
    return grown > rule.amount ? { raw: grown, shaped: 'grown' } : { raw: rule.amount, shaped: 'none' };
  }
  if (shaping.fit && x.usage > x.upper) {
    const fit = rawAmount({ rescale_policy: 'fit_to_usage', amount: 0 }, x);
    if (riseOf(x) !== 'onset') return { raw: fit, shaped: 'fit' };
    const step = growthStep(rule, x, shaping);
    return step > fit ? { raw: step, shaped: 'onset' } : { raw: fit, shaped: 'fit' };
  }
  return { raw: rule.amount, shaped: 'none' };
}

/**
 * The rule's amount (up: shaped by upAmount), trimmed into [min, max]; then a
 * scale-down that frees less than `minDown` × margin is not worth an order and
 * becomes 0 ('too_small'). fit_to_usage downs free more than half a margin by
 * construction (they fire on usage under lower = current − 2 × margin), so
 * minDown 1 means: scale down when usage is under current − 2.5 × margin.
 */
export function computeAmount(
  rule: RequestRule,
  x: AmountInputs,
  shaping: AmountShaping = NO_SHAPING,
): AmountResult {
  const { raw, shaped } =
    rule.rescale_type === 'up'
      ? upAmount(rule, x, shaping)
      : { raw: rawAmount(rule, x), shaped: 'none' as const };
  const out = { ...trimAmount(raw, rule.rescale_type, x), shaped };
  if (out.amount < 0 && -out.amount < shaping.minDown * x.margin)
    return { amount: 0, raw, trimmed: 'too_small', shaped };
  return out;
}
