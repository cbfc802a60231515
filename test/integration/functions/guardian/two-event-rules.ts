import type { Rule } from '../../../../core/contracts/rule.ts';
import { DEFAULT_RULES } from '../../../../core/policy/default-rules.ts';
import { withThreshold } from '../../../../functions/api/routes/rules.ts';

/**
 * The default rules with the original framework's two events before CpuRescaleUp
 * (the shipped default is one: fast up, slow down). The tick tests use it to follow
 * events across ticks: the first tick adds them, the second requests.
 */
export const TWO_EVENT_CPU_UP_RULES: readonly Rule[] = DEFAULT_RULES.map((r) => {
  if (r.name !== 'CpuRescaleUp' || r.generates !== 'requests') return r;
  const rule = withThreshold(r.rule, 'up', 2);
  if (rule === null) throw new Error('CpuRescaleUp compares no up count');
  return { ...r, events_to_remove: 2, rule };
});
