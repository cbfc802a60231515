/**
 * Scheduled (rate 1 minute): nothing but a config read while ACTIVE is false (the default);
 * otherwise a ReBalancer period every WINDOW_TIMELAPSE seconds
 * until the deadline; its paired requests go to the planner (the Scaler use case).
 */
import middy from '@middy/core';
import { readOpsEnv } from '../ops/env.ts';
import { buildRebalancer } from '../ops/wiring.ts';
import type { LambdaContextLike } from './lambda-context.ts';

const rebalancer = buildRebalancer(readOpsEnv(process.env));

export const handler = middy(async (_event: unknown, context: LambdaContextLike) =>
  rebalancer
    .invoke(context)
    .then((r) => ({ rounds: r.rounds, moves: r.results.reduce((s, x) => s + x.moves.length, 0) })),
);
