/**
 * Scheduled (rate 1 minute): the whole-fleet snapshot (applications, users, service configs, and the
 * hosts and containers the control tick also publishes every tick), one round per invocation at the
 * default POLLING_FREQUENCY (60 s); a shorter period loops until the deadline (functions/ops/periodic.ts).
 */
import middy from '@middy/core';
import { readOpsEnv } from '../ops/env.ts';
import { buildSnapshoter } from '../ops/wiring.ts';
import type { LambdaContextLike } from './lambda-context.ts';

const snapshoter = buildSnapshoter(readOpsEnv(process.env));

export const handler = middy(async (_event: unknown, context: LambdaContextLike) =>
  snapshoter.invoke(context).then((r) => ({ rounds: r.rounds, leased: r.leased })),
);
