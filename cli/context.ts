/**
 * What every command module gets: the API (connected on first use), `call`
 * (an answer ≥ 400 becomes a CliError naming the field), `print` (human text or
 * `--json`), `action` (runs a command and reports its exit code) and the verbs
 * that containers, applications and users share.
 */
import type { Command } from 'commander';
import { fieldValues, type Obj, usage } from './args.ts';
import {
  type ApiClient,
  apiPath,
  assertLiteralPath,
  CliError,
  type ConnectOptions,
  connect,
  EXIT,
} from './client.ts';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
  /** Overrides how the API is reached (tests). */
  client?: ApiClient;
}

export interface CliContext {
  io: Io;
  /** The global options (--json, --url, …). */
  globals(): ConnectOptions & { json?: boolean };
  api(): ApiClient;
  call(method: string, path: string, body?: unknown, query?: Record<string, string>): Promise<unknown>;
  print(body: unknown, human: (b: never) => string): void;
  action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void>;
}

export function cliContext(program: Command, io: Io, done: (code: number) => void): CliContext {
  let client: ApiClient | null = io.client ?? null;
  const globals = () => program.opts<ConnectOptions & { json?: boolean }>();
  const api = (): ApiClient => {
    client ??= connect(globals(), io.env);
    return client;
  };
  return {
    io,
    globals,
    api,
    async call(method, path, body, query) {
      assertLiteralPath(path);
      const answer = await api().request(method, path, body, query);
      if (answer.status < 400) return answer.body;
      const b = (answer.body ?? {}) as { message?: string; field?: string; error?: string };
      const message =
        typeof b === 'object' && b.message !== undefined ? b.message : JSON.stringify(answer.body);
      throw new CliError(
        `${message}${b.field ? ` (field: ${b.field})` : ''} [HTTP ${answer.status}]`,
        answer.status >= 500 ? EXIT.unavailable : EXIT.refused,
        answer,
      );
    },
    print(body, human) {
      io.out(globals().json ? JSON.stringify(body, null, 2) : human(body as never));
    },
    action:
      <A extends unknown[]>(fn: (...args: A) => Promise<void>) =>
      async (...args: A) => {
        await fn(...args);
        done(EXIT.ok);
      },
  };
}

/** `<kind> set <name> <resource> <field=value...>` of applications and users: PUT the fields, print the resource. */
export function setResource(ctx: CliContext, root: 'apps' | 'users') {
  return ctx.action(async (name: string, resource: string, pairs: string[]) => {
    const out = (await ctx.call(
      'PUT',
      apiPath`/${root}/${name}/resources/${resource}`,
      fieldValues(pairs),
    )) as Obj;
    ctx.print(out, (b: Obj) => `${name} ${resource}: ${JSON.stringify(b.resource)}`);
  });
}

/** `<kind> guard|unguard <name> [resources...]` of containers and applications. */
export function setGuard(ctx: CliContext, root: 'containers' | 'apps', guard: boolean) {
  return ctx.action(async (name: string, resources: string[]) => {
    const out = await ctx.call('PUT', apiPath`/${root}/${name}/guard`, {
      guard,
      ...(resources.length > 0 ? { resources } : {}),
    });
    ctx.print(
      out,
      () => `${name}${resources.length ? ` ${resources.join(',')}` : ''} ${guard ? 'guarded' : 'unguarded'}`,
    );
  });
}

/** `<kind> limits <name> <resource> --boundary/--type` of containers and applications. */
export function setLimits(ctx: CliContext, root: 'containers' | 'apps') {
  return ctx.action(async (name: string, resource: string, o: { boundary?: number; type?: string }) => {
    if (o.boundary === undefined && o.type === undefined)
      throw usage('give --boundary <percent> or --type <type>');
    const out = await ctx.call('PUT', apiPath`/${root}/${name}/limits/${resource}`, {
      ...(o.boundary === undefined ? {} : { boundary: o.boundary }),
      ...(o.type === undefined ? {} : { boundary_type: o.type }),
    });
    ctx.print(out, (b: Obj) => `${name} ${resource} limits: ${JSON.stringify(b.limits)}`);
  });
}
