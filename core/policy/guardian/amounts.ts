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
}

export interface AmountResult {
  /** Whole units, signed; 0 means "emit nothing". */
  amount: number;
  /** Before trimming (for the reasons). */
  raw: number;
  trimmed: 'none' | 'to_min' | 'to_max' | 'wrong_direction';
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
    return { amount: 0, raw, trimmed: 'wrong_direction' };
  }
  return { amount: amount === 0 ? 0 : amount, raw, trimmed };
}

export function computeAmount(rule: RequestRule, x: AmountInputs): AmountResult {
  return trimAmount(rawAmount(rule, x), rule.rescale_type, x);
}
