/**
 * The orchestration API behind API Gateway (HTTP API, payload 2.0, IAM
 * authorization) and for direct invokes (`sc --invoke`, `osls invoke -f api`)
 * with the same event shape. Clients are built once per container.
 */
import middy from '@middy/core';
import type { HttpEvent } from '../api/http.ts';
import { buildApiFromEnv } from '../api/wiring.ts';

const { api } = buildApiFromEnv(process.env);

export const handler = middy(async (event: HttpEvent) => api.handle(event));
