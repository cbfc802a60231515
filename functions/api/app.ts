/** The orchestration API: every route, the router, and the OpenAPI document built from the same schemas. */
import type { Logger } from '../../adapters/logger.ts';
import type { ApiDeps } from './deps.ts';
import type { HttpEvent, HttpResult } from './http.ts';
import { openApiDocument, type Route, Router, route } from './router.ts';
import { containerRoutes } from './routes/containers.ts';
import { hostRoutes } from './routes/hosts.ts';
import { operationRoutes } from './routes/operations.ts';
import { resourceRoutes } from './routes/resources.ts';
import { ruleRoutes } from './routes/rules.ts';
import { structureRoutes } from './routes/structures.ts';
import { PARAMS } from './schemas.ts';

export const API_INFO = { title: 'serverless-containers orchestration API', version: '1.0.0' };

export interface Api {
  handle(event: HttpEvent): Promise<HttpResult>;
  readonly routes: readonly Route[];
  openApi(): Record<string, unknown>;
}

export function createApi(deps: ApiDeps, logger: Pick<Logger, 'error'>): Api {
  const domain: Route[] = [
    ...hostRoutes(deps),
    ...containerRoutes(deps),
    ...resourceRoutes(deps),
    ...structureRoutes(deps),
    ...ruleRoutes(deps),
    ...operationRoutes(deps),
  ];
  let doc: Record<string, unknown> | null = null;
  const openApi = () => {
    doc ??= openApiDocument(routes, PARAMS, API_INFO);
    return doc;
  };
  const routes: Route[] = [
    ...domain,
    route({
      method: 'GET',
      path: '/health',
      tag: 'meta',
      summary: 'Liveness of the API',
      async handle() {
        return { status: 200, body: { ok: true, at: deps.clock.now() } };
      },
    }),
    route({
      method: 'GET',
      path: '/openapi.json',
      tag: 'meta',
      summary: 'This document',
      async handle() {
        return { status: 200, body: openApi() };
      },
    }),
  ];
  const router = new Router(routes, PARAMS, (err, event) =>
    logger.error(
      { err, method: event.requestContext?.http?.method, path: event.rawPath },
      'unexpected API error',
    ),
  );
  return { handle: (e) => router.handle(e), routes, openApi };
}
