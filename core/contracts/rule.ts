import { z } from 'zod';
import { RuleName } from './names.ts';
import { Resource } from './units.ts';

/** A JSON-Logic expression (https://jsonlogic.com). Validated further by the policy's rule checker. */
export const JsonLogicExpr = z.union([
  z.record(z.string(), z.unknown()),
  z.boolean(),
  z.number(),
  z.string(),
  z.null(),
  z.array(z.unknown()),
]);
export type JsonLogicExpr = z.infer<typeof JsonLogicExpr>;

export const ScaleDirection = z.enum(['up', 'down']);
export type ScaleDirection = z.infer<typeof ScaleDirection>;

export const RescalePolicy = z.enum(['amount', 'fit_to_usage', 'proportional']);
export type RescalePolicy = z.infer<typeof RescalePolicy>;

/**
 * Event rule: evaluated over `{ <res>: { structure: { <res>: {max,min,current,usage} }, limits: { <res>: {upper,lower,boundary} } } }`
 * (the original framework's data shape, so its rule texts carry over).
 */
export const EventRule = z.strictObject({
  name: RuleName,
  resource: Resource,
  active: z.boolean(),
  generates: z.literal('events'),
  rule: JsonLogicExpr,
  action: z.strictObject({
    events: z.strictObject({
      scale: z.union([z.strictObject({ up: z.literal(1) }), z.strictObject({ down: z.literal(1) })]),
    }),
  }),
});
export type EventRule = z.infer<typeof EventRule>;

/** Request rule: evaluated over `{ events: { scale: { up: U, down: D } } }` for one structure and resource. */
export const RequestRule = z.strictObject({
  name: RuleName,
  resource: Resource,
  active: z.boolean(),
  generates: z.literal('requests'),
  rule: JsonLogicExpr,
  events_to_remove: z.number().int().nonnegative(),
  rescale_type: ScaleDirection,
  rescale_policy: RescalePolicy,
  /** Resource units; for 'proportional' the amount at full bottleneck depth; ignored by 'fit_to_usage'. */
  amount: z.number().int(),
});
export type RequestRule = z.infer<typeof RequestRule>;

export const Rule = z.discriminatedUnion('generates', [EventRule, RequestRule]);
export type Rule = z.infer<typeof Rule>;
