/**
 * The orchestration API behind API Gateway (HTTP API, payload 2.0, IAM
 * authorization) and for direct invokes (`sc --invoke`, `osls invoke -f api`)
 * with the same event shape. Clients are built once per container.
 */
import type { HttpEvent } from '../api/http.ts';
import { buildApiFromEnv } from '../api/wiring.ts';
import { lambdaHandler } from './middleware.ts';

const { api } = buildApiFromEnv(process.env);

export const handler = lambdaHandler('api', async (event: HttpEvent) => api.handle(event));
