import { z } from 'zod';

/** Why a decision was made: the rule (or actor) and the values it saw. Kept with requests, orders and events. */
export const Reason = z.object({
  /** Rule name, or 'operator', 'rebalancer', 'oom-fastpath', 'sanity', 'planner'. */
  source: z.string().min(1),
  text: z.string(),
  values: z.record(z.string(), z.union([z.number(), z.string(), z.null()])).default({}),
});
export type Reason = z.infer<typeof Reason>;
