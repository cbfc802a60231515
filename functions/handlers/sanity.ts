/** Scheduled (rate 1 minute): the sanity sweep, one round per invocation at the default POLLING_FREQUENCY (60 s). */
import middy from '@middy/core';
import { readOpsEnv } from '../ops/env.ts';
import { buildSanity } from '../ops/wiring.ts';
import type { LambdaContextLike } from './lambda-context.ts';

const sanity = buildSanity(readOpsEnv(process.env));

export const handler = middy(async (_event: unknown, context: LambdaContextLike) =>
  sanity
    .invoke(context)
    .then((r) => ({ rounds: r.rounds, findings: r.results.reduce((s, x) => s + x.findings.length, 0) })),
);
