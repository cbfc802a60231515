/**
 * `sc`: the operator's command line over the orchestration API. Human tables
 * by default, `--json` for scripts; exit codes: 0 ok, 1 refused by the API
 * (4xx, message names the field), 2 usage error, 3 API unreachable or failing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, CommanderError, Option } from 'commander';
import { type ApiClient, CliError, type ConnectOptions, connect, EXIT } from './client.ts';
import { ago, keyValues, table } from './format.ts';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
  /** Overrides how the API is reached (tests). */
  client?: ApiClient;
}

const defaultIo: Io = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  env: process.env,
};

const RESOURCES = ['cpu', 'mem', 'disk_read', 'disk_write', 'net'] as const;
type Obj = Record<string, unknown>;

function usage(message: string): CliError {
  return new CliError(message, EXIT.usage);
}

function int(what: string) {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v)) throw usage(`${what} must be a whole number, got "${v}"`);
    return Number(v);
  };
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** "max:min:current" (containers) or "max:min" (applications). */
function spec(resource: string, text: string, withCurrent: boolean): Obj {
  const parts = text.split(':');
  const want = withCurrent ? 3 : 2;
  if (parts.length !== want || parts.some((p) => !/^\d+$/.test(p)))
    throw usage(
      `--${resource.replace('_', '-')} must be ${withCurrent ? 'max:min:current' : 'max:min'}, got "${text}"`,
    );
  const [max, min, current] = parts.map(Number);
  return withCurrent ? { max, min, current } : { max, min };
}

/** A config value as typed JSON when it parses (10, true, ["cpu"]), else the string itself. */
export function configValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function fieldValues(pairs: string[]): Obj {
  const out: Obj = {};
  for (const p of pairs) {
    const m = /^(max|min|weight|current|guard)=(.+)$/.exec(p);
    if (m === null) throw usage(`expected max=N, min=N, weight=X, current=N or guard=true|false, got "${p}"`);
    out[m[1] as string] = configValue(m[2] as string);
  }
  if (Object.keys(out).length === 0)
    throw usage('give at least one of max=N, min=N, weight=X, guard=B, current=N');
  return out;
}

function statusRow(r: Obj, now: number): (string | number | null)[] {
  return [
    r.container as string,
    r.resource as string,
    (r.guard as boolean) ? 'yes' : 'no',
    typeof r.usage === 'number' ? Math.round(r.usage) : null,
    r.current as number,
    r.applied as number | null,
    r.upper as number | null,
    r.lower as number | null,
    r.max as number,
    (r.lastDecision as string | null) ?? null,
    (r.reason as string | null) ?? null,
    ago(r.decidedAt as number | null, now),
  ];
}

function findingsTable(rows: Obj[], now: number): string {
  return table(
    ['WHEN', 'STRUCTURE', 'CHECK', 'ACTION', 'TEXT'],
    rows.map((f) => [
      ago(f.at as number, now),
      f.structure as string,
      f.check as string | null,
      f.action as string | null,
      f.text as string,
    ]),
  );
}

export function buildProgram(io: Io, done: (code: number) => void): Command {
  let client: ApiClient | null = io.client ?? null;
  const program = new Command('sc');
  const globals = () => program.opts<ConnectOptions & { json?: boolean }>();
  const api = (): ApiClient => {
    client ??= connect(globals(), io.env);
    return client;
  };
  const print = (body: unknown, human: (b: never) => string) =>
    io.out(globals().json ? JSON.stringify(body, null, 2) : human(body as never));

  async function call(
    method: string,
    path: string,
    body?: unknown,
    query?: Record<string, string>,
  ): Promise<unknown> {
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
  }
  const seg = encodeURIComponent;

  program
    .description(
      'Operate serverless-containers: hosts, containers, applications, users, rules, config, scaling',
    )
    .option('--json', 'print the API answer as JSON, and errors as one JSON line on stderr (for scripts)')
    .option('--url <url>', 'API base URL (default: $SC_API_URL)')
    .option(
      '--token <token>',
      'bearer token of the local API (default: $SC_API_TOKEN); without one, requests are SigV4-signed',
    )
    .option('--invoke <function>', 'invoke the api Lambda function directly instead of HTTP')
    .option('--region <region>', 'AWS region for SigV4 and --invoke (default: $AWS_REGION)')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 refused by the API (the message names the field), 2 usage error, 3 API unreachable or failing.',
    )
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  const action =
    <A extends unknown[]>(fn: (...args: A) => Promise<void>) =>
    async (...args: A) => {
      await fn(...args);
      done(EXIT.ok);
    };

  /** `<kind> set <name> <resource> <field=value...>` of applications and users: PUT the fields, print the resource. */
  const setResource = (root: '/apps' | '/users') =>
    action(async (name: string, resource: string, pairs: string[]) => {
      const out = (await call(
        'PUT',
        `${root}/${seg(name)}/resources/${seg(resource)}`,
        fieldValues(pairs),
      )) as Obj;
      print(out, (b: Obj) => `${name} ${resource}: ${JSON.stringify(b.resource)}`);
    });

  /** `<kind> guard|unguard <name> [resources...]` of containers and applications. */
  const setGuard = (root: '/containers' | '/apps', guard: boolean) =>
    action(async (name: string, resources: string[]) => {
      const out = await call('PUT', `${root}/${seg(name)}/guard`, {
        guard,
        ...(resources.length > 0 ? { resources } : {}),
      });
      print(
        out,
        () =>
          `${name}${resources.length ? ` ${resources.join(',')}` : ''} ${guard ? 'guarded' : 'unguarded'}`,
      );
    });

  /** `<kind> limits <name> <resource> --boundary/--type` of containers and applications. */
  const setLimits = (root: '/containers' | '/apps') =>
    action(async (name: string, resource: string, o: { boundary?: number; type?: string }) => {
      if (o.boundary === undefined && o.type === undefined)
        throw usage('give --boundary <percent> or --type <type>');
      const out = await call('PUT', `${root}/${seg(name)}/limits/${seg(resource)}`, {
        ...(o.boundary === undefined ? {} : { boundary: o.boundary }),
        ...(o.type === undefined ? {} : { boundary_type: o.type }),
      });
      print(out, (b: Obj) => `${name} ${resource} limits: ${JSON.stringify(b.limits)}`);
    });

  // ---- hosts ----
  const host = program.command('host').description('Register, list, show and deregister hosts');
  host
    .command('add <name>')
    .description('Register a host with its capacity (creates its order queue and DLQ)')
    .option('--cores <n>', 'logical CPUs (one socket, one core each)', int('--cores'))
    .option('--topology <json>', 'CPU topology as JSON: [{"id":"0","socket":0,"core":0},…]')
    .option('--from-agent', "CPU topology and memory from the host's agent report (GET /hosts/{host}/agent)")
    .option('--mem <MiB>', 'memory, MiB (with --from-agent: at most what the agent reported)', int('--mem'))
    .option('--disk <name:path:readMiBps:writeMiBps>', 'a disk and its bandwidth (repeatable)', collect)
    .option('--net <Mbps>', 'network bandwidth, Mbit/s', int('--net'))
    .addOption(
      new Option('--placement <mode>', 'CPU placement').choices(['pinned', 'quota']).default('pinned'),
    )
    .action(
      action(
        async (
          name: string,
          o: {
            cores?: number;
            topology?: string;
            fromAgent?: boolean;
            mem?: number;
            disk?: string[];
            net?: number;
            placement: string;
          },
        ) => {
          const disks: Obj = {};
          for (const d of o.disk ?? []) {
            const m = /^([^:]+):(\/[^:]*):(\d+):(\d+)$/.exec(d);
            if (m === null) throw usage(`--disk must be name:/path:readMiBps:writeMiBps, got "${d}"`);
            disks[m[1] as string] = { path: m[2], readMiBps: Number(m[3]), writeMiBps: Number(m[4]) };
          }
          let topology: unknown;
          let mem = o.mem;
          if (o.fromAgent === true) {
            if (o.topology !== undefined || o.cores !== undefined)
              throw usage('--from-agent takes the topology from the agent: drop --topology/--cores');
            const reported = fromAgentReport(await call('GET', `/hosts/${seg(name)}/agent`));
            topology = reported.cpus;
            if (mem !== undefined && mem > reported.memMiB)
              throw usage(`--mem ${mem} is above the ${reported.memMiB} MiB the agent reported`);
            mem ??= reported.memMiB;
          }
          if (mem === undefined) throw usage('--mem is required (or --from-agent)');
          if (o.topology !== undefined) {
            try {
              topology = JSON.parse(o.topology);
            } catch {
              throw usage('--topology must be JSON');
            }
          }
          const body = {
            cpu: {
              ...(o.cores === undefined ? {} : { cores: o.cores }),
              ...(topology === undefined ? {} : { topology }),
            },
            memMiB: mem,
            disks,
            ...(o.net === undefined ? {} : { netMbps: o.net }),
            cpuPlacement: o.placement,
          };
          const h = (await call('PUT', `/hosts/${seg(name)}`, body)) as Obj;
          print(h, (b: Obj) => `host ${b.name} registered (version ${b.version}), queue ${b.queueUrl}`);
        },
      ),
    );
  host
    .command('ls')
    .description('List hosts with free capacity')
    .action(
      action(async () => {
        const rows = (await call('GET', '/hosts')) as Obj[];
        print(rows, (b: Obj[]) =>
          table(
            ['HOST', 'CPU FREE', 'CPU MAX', 'MEM FREE', 'MEM MAX', 'CONTAINERS', 'DEGRADED'],
            b.map((h) => {
              const cpu = h.cpu as Obj;
              const mem = h.mem as Obj;
              return [
                h.name as string,
                cpu.free as number,
                cpu.max as number,
                mem.free as number,
                mem.max as number,
                (h.containers as string[]).length,
                h.degraded ? 'yes' : 'no',
              ];
            }),
          ),
        );
      }),
    );
  host
    .command('show <name>')
    .description("A host's capacity, core map, containers and agent heartbeat")
    .action(
      action(async (name: string) => {
        const h = (await call('GET', `/hosts/${seg(name)}`)) as Obj;
        print(h, (b: Obj) => {
          const cap = b.capacity as {
            cpu: Obj & { cores: Record<string, { free: number; alloc: Obj }> };
            mem: Obj;
          };
          const agent = b.agent as Obj | null;
          const seenAt = (b.agentSeenAt as number | null | undefined) ?? (agent?.at as number | null);
          return [
            keyValues({
              name: b.name,
              version: b.version,
              placement: b.cpuPlacement,
              cpu: `${cap.cpu.free} free of ${cap.cpu.max} shares`,
              mem: `${cap.mem.free} free of ${cap.mem.max} MiB`,
              containers: Object.keys(b.containers as Obj).join(', ') || '-',
              // A busy agent proves itself alive by its reports and may have written no heartbeat yet.
              agent:
                seenAt === null || seenAt === undefined
                  ? 'never heard from'
                  : `heard from ${ago(seenAt, Date.now())}${agent === null ? '' : ` (${agent.cgroupVersion})`}`,
            }),
            '',
            table(
              ['CORE', 'FREE', 'ALLOCATED'],
              Object.entries(cap.cpu.cores).map(([id, c]) => [
                id,
                c.free,
                Object.entries(c.alloc)
                  .map(([k, v]) => `${k}:${v}`)
                  .join(' '),
              ]),
            ),
          ].join('\n');
        });
      }),
    );
  host
    .command('rm <name>')
    .description('Deregister an empty host (and delete its queues)')
    .action(
      action(async (name: string) => {
        print(await call('DELETE', `/hosts/${seg(name)}`), () => `host ${name} deregistered`);
      }),
    );

  // ---- containers ----
  const ct = program
    .command('container')
    .description('Subscribe, list, show, change and unsubscribe containers');
  const addResourceOptions = (c: Command, withCurrent: boolean) => {
    const f = withCurrent ? 'max:min:current' : 'max:min';
    return c
      .option('--cpu <spec>', `cpu shares, ${f}`)
      .option('--mem <spec>', `memory MiB, ${f}`)
      .option('--disk-read <spec>', `disk read MiB/s, ${f}`)
      .option('--disk-write <spec>', `disk write MiB/s, ${f}`)
      .option('--net <spec>', `network Mbit/s, ${f}`);
  };
  const resourcesFrom = (o: Obj, withCurrent: boolean): Obj => {
    const out: Obj = {};
    for (const r of RESOURCES) {
      const key = r.replace(/_(\w)/, (_m, c: string) => c.toUpperCase());
      const v = o[key];
      if (typeof v === 'string') out[r] = spec(r, v, withCurrent);
    }
    return out;
  };
  addResourceOptions(
    ct
      .command('add <name>')
      .description('Subscribe a container to a host (reserves its allocation; cpu and mem are required)')
      .requiredOption('--host <host>', 'the host it runs on'),
    true,
  )
    .option('--disk <name:path>', 'host disk and path its data lives on (for disk_read/disk_write)')
    .option('--boundary <percent>', 'boundary for every resource (0-100)', int('--boundary'))
    .option('--no-guard', 'do not let the Guardian scale it')
    .action(
      action(async (name: string, o: Obj) => {
        const resources = resourcesFrom(o, true);
        let disk: Obj | undefined;
        if (typeof o.disk === 'string') {
          const m = /^([^:]+):(\/.*)$/.exec(o.disk);
          if (m === null) throw usage(`--disk must be name:/path, got "${o.disk}"`);
          disk = { name: m[1], path: m[2] };
        }
        const body = {
          host: o.host,
          resources,
          ...(disk === undefined ? {} : { disk }),
          guard: o.guard !== false,
          ...(typeof o.boundary === 'number'
            ? { limits: Object.fromEntries(Object.keys(resources).map((r) => [r, { boundary: o.boundary }])) }
            : {}),
        };
        const c = (await call('PUT', `/containers/${seg(name)}`, body)) as Obj;
        print(c, (b: Obj) => {
          const cont = b.container as Obj;
          return `container ${name} subscribed to ${cont.host}${(cont.cores as string[]).length ? ` on cores ${(cont.cores as string[]).join(',')}` : ''}${b.orderSent === false ? ' (order not sent yet; the sanity sweep re-sends)' : ''}`;
        });
      }),
    );
  ct.command('ls')
    .description('List containers')
    .action(
      action(async () => {
        const rows = (await call('GET', '/containers')) as Obj[];
        print(rows, (b: Obj[]) =>
          table(
            ['CONTAINER', 'HOST', 'APP', 'GUARD', 'CPU', 'MEM', 'CORES'],
            b.map((c) => {
              const res = c.resources as Record<string, Obj>;
              const fmt = (r: string) => (res[r] === undefined ? null : `${res[r]?.current}/${res[r]?.max}`);
              return [
                c.name as string,
                c.host as string,
                c.application as string | null,
                c.guard ? 'yes' : 'no',
                fmt('cpu'),
                fmt('mem'),
                (c.cores as string[]).join(',') || null,
              ];
            }),
          ),
        );
      }),
    );
  ct.command('show <name>')
    .description('A container: resources, limits, applied state and last decision')
    .action(
      action(async (name: string) => {
        const c = (await call('GET', `/containers/${seg(name)}`)) as Obj;
        print(c, (b: Obj) => {
          const cont = b.container as Obj;
          const limits = b.limits as Record<string, Obj>;
          const res = cont.resources as Record<string, Obj>;
          const decision = b.lastDecision as Obj | null;
          return [
            keyValues({
              name: cont.name,
              host: cont.host,
              application: cont.application,
              guard: cont.guard,
              cores: (cont.cores as string[]).join(',') || '-',
              desiredVersion: cont.desiredVersion,
              appliedVersion: (b.applied as Obj | null)?.appliedVersion ?? '-',
              lastDecision: decision === null ? '-' : `${decision.text}`,
            }),
            '',
            table(
              ['RESOURCE', 'MIN', 'CURRENT', 'MAX', 'WEIGHT', 'GUARD', 'BOUNDARY', 'TYPE', 'UPPER', 'LOWER'],
              Object.entries(res).map(([r, s]) => [
                r,
                s.min as number,
                s.current as number,
                s.max as number,
                s.weight as number,
                s.guard ? 'yes' : 'no',
                (limits[r]?.boundary as number | undefined) ?? null,
                (limits[r]?.boundary_type as string | undefined) ?? null,
                (limits[r]?.upper as number | null | undefined) ?? null,
                (limits[r]?.lower as number | null | undefined) ?? null,
              ]),
            ),
          ].join('\n');
        });
      }),
    );
  ct.command('rm <name>')
    .description('Unsubscribe a container (gives its allocation back to the host)')
    .action(
      action(async (name: string) => {
        print(await call('DELETE', `/containers/${seg(name)}`), () => `container ${name} unsubscribed`);
      }),
    );
  ct.command('set <name> <resource> <field=value...>')
    .description('Set max, min, weight, guard of a resource; current=N alone goes through the planner')
    .action(
      action(async (name: string, resource: string, pairs: string[]) => {
        const out = await call(
          'PUT',
          `/containers/${seg(name)}/resources/${seg(resource)}`,
          fieldValues(pairs),
        );
        print(
          out,
          (b: Obj) =>
            `${name} ${resource}: ${keyValues(b.resource as Obj)
              .replace(/\n/g, ', ')
              .replace(/ {2,}/g, ' ')}`,
        );
      }),
    );
  for (const [verb, guard] of [
    ['guard', true],
    ['unguard', false],
  ] as const)
    ct.command(`${verb} <name> [resources...]`)
      .description(
        `${verb === 'guard' ? 'Let' : 'Stop'} the Guardian ${verb === 'guard' ? 'scale' : 'scaling'} a container (or only some resources)`,
      )
      .action(setGuard('/containers', guard));
  ct.command('limits <name> <resource>')
    .description("Set a resource's boundary (0-100) and/or boundary type")
    .option('--boundary <percent>', 'boundary, percent', int('--boundary'))
    .addOption(
      new Option('--type <type>', 'boundary type').choices(['percentage_of_max', 'percentage_of_current']),
    )
    .action(setLimits('/containers'));

  // ---- applications ----
  const app = program
    .command('app')
    .description('Applications: create, change, guard, delete, add and remove containers');
  addResourceOptions(
    app
      .command('add <name>')
      .description(
        'Create an application, or replace its guard and resources (sc app set / guard change one thing)',
      ),
    false,
  )
    .option('--guard', 'let the Guardian scale the application as a whole')
    .action(
      action(async (name: string, o: Obj) => {
        const out = await call('PUT', `/apps/${seg(name)}`, {
          guard: o.guard === true,
          resources: resourcesFrom(o, false),
        });
        print(out, () => `application ${name} saved`);
      }),
    );
  app
    .command('set <name> <resource> <field=value...>')
    .description("Set max, min, weight or guard of an application's resource (the others are kept)")
    .action(setResource('/apps'));
  for (const [verb, guard] of [
    ['guard', true],
    ['unguard', false],
  ] as const)
    app
      .command(`${verb} <name> [resources...]`)
      .description(
        `${verb === 'guard' ? 'Let' : 'Stop'} the Guardian ${verb === 'guard' ? 'scale' : 'scaling'} an application as a whole (or only some resources)`,
      )
      .action(setGuard('/apps', guard));
  app
    .command('limits <name> <resource>')
    .description("Set an application resource's boundary (0-100) and/or boundary type")
    .option('--boundary <percent>', 'boundary, percent', int('--boundary'))
    .addOption(
      new Option('--type <type>', 'boundary type').choices(['percentage_of_max', 'percentage_of_current']),
    )
    .action(setLimits('/apps'));
  app
    .command('ls')
    .description('List applications')
    .action(
      action(async () => {
        const rows = (await call('GET', '/apps')) as Obj[];
        print(rows, (b: Obj[]) =>
          table(
            ['APP', 'USER', 'STATE', 'GUARD', 'CONTAINERS'],
            b.map((a) => [
              a.name as string,
              a.user as string | null,
              a.state as string,
              a.guard ? 'yes' : 'no',
              (a.containers as string[]).join(',') || null,
            ]),
          ),
        );
      }),
    );
  app
    .command('show <name>')
    .description('One application')
    .action(
      action(async (name: string) =>
        print(await call('GET', `/apps/${seg(name)}`), (b: Obj) => keyValues(b)),
      ),
    );
  app
    .command('rm <name>')
    .description('Delete an application without containers')
    .action(
      action(async (name: string) =>
        print(await call('DELETE', `/apps/${seg(name)}`), () => `application ${name} deleted`),
      ),
    );
  app
    .command('attach <app> <container>')
    .description('Add a container to an application')
    .action(
      action(async (a: string, c: string) =>
        print(await call('PUT', `/apps/${seg(a)}/containers/${seg(c)}`), () => `${c} added to ${a}`),
      ),
    );
  app
    .command('detach <app> <container>')
    .description('Remove a container from an application')
    .action(
      action(async (a: string, c: string) =>
        print(await call('DELETE', `/apps/${seg(a)}/containers/${seg(c)}`), () => `${c} removed from ${a}`),
      ),
    );

  // ---- users ----
  const user = program.command('user').description('Users: create, change, delete, link applications');
  user
    .command('add <name>')
    .description('Create a user, or replace its resources (sc user set changes one)')
    .option('--cpu <max:min>', 'cpu shares')
    .option('--mem <max:min>', 'memory MiB')
    .action(
      action(async (name: string, o: Obj) => {
        print(
          await call('PUT', `/users/${seg(name)}`, { resources: resourcesFrom(o, false) }),
          () => `user ${name} saved`,
        );
      }),
    );
  user
    .command('set <name> <resource> <field=value...>')
    .description("Set a user's max or min of a resource (its applications' max must fit under its max)")
    .action(setResource('/users'));
  user
    .command('ls')
    .description('List users')
    .action(
      action(async () => {
        const rows = (await call('GET', '/users')) as Obj[];
        print(rows, (b: Obj[]) =>
          table(
            ['USER', 'APPS'],
            b.map((u) => [u.name as string, (u.applications as string[]).join(',') || null]),
          ),
        );
      }),
    );
  user
    .command('show <name>')
    .description('One user')
    .action(
      action(async (name: string) =>
        print(await call('GET', `/users/${seg(name)}`), (b: Obj) => keyValues(b)),
      ),
    );
  user
    .command('rm <name>')
    .description('Delete a user (its applications are unlinked)')
    .action(
      action(async (name: string) =>
        print(await call('DELETE', `/users/${seg(name)}`), () => `user ${name} deleted`),
      ),
    );
  user
    .command('link <user> <app>')
    .description('Link an application to a user')
    .action(
      action(async (u: string, a: string) =>
        print(await call('PUT', `/users/${seg(u)}/apps/${seg(a)}`), () => `${a} linked to ${u}`),
      ),
    );
  user
    .command('unlink <user> <app>')
    .description('Unlink an application from a user')
    .action(
      action(async (u: string, a: string) =>
        print(await call('DELETE', `/users/${seg(u)}/apps/${seg(a)}`), () => `${a} unlinked from ${u}`),
      ),
    );

  // ---- rules ----
  const rule = program
    .command('rule')
    .description('Scaling rules: list, show, activate, deactivate, change, create, delete');
  rule
    .command('ls')
    .description('List rules')
    .action(
      action(async () => {
        const rows = (await call('GET', '/rules')) as Obj[];
        print(rows, (b: Obj[]) =>
          table(
            ['RULE', 'RESOURCE', 'ACTIVE', 'GENERATES', 'DIRECTION', 'POLICY', 'AMOUNT', 'EVENTS'],
            b.map((r) => [
              r.name as string,
              r.resource as string,
              r.active ? 'yes' : 'no',
              r.generates as string,
              (r.rescale_type as string) ?? null,
              (r.rescale_policy as string) ?? null,
              (r.amount as number) ?? null,
              (r.events_to_remove as number) ?? null,
            ]),
          ),
        );
      }),
    );
  rule
    .command('show <name>')
    .description('One rule, with its JSON-Logic condition')
    .action(
      action(async (name: string) =>
        print(await call('GET', `/rules/${seg(name)}`), (b: Obj) => JSON.stringify(b, null, 2)),
      ),
    );
  for (const verb of ['activate', 'deactivate'] as const)
    rule
      .command(`${verb} <name>`)
      .description(`${verb === 'activate' ? 'Activate' : 'Deactivate'} a rule`)
      .action(
        action(async (name: string) =>
          print(await call('PUT', `/rules/${seg(name)}/${verb}`), () => `rule ${name} ${verb}d`),
        ),
      );
  rule
    .command('set <name> <what> <value>')
    .description(
      'Change a request rule: amount <n> | policy <amount|proportional|fit_to_usage> | events-required <n>',
    )
    .addOption(
      new Option('--direction <dir>', 'for events-required: which count to change').choices(['up', 'down']),
    )
    .action(
      action(async (name: string, what: string, value: string, o: { direction?: string }) => {
        let body: Obj;
        if (what === 'amount') body = { value: int('amount')(value) };
        else if (what === 'policy') body = { value };
        else if (what === 'events-required')
          body = { value: int('events-required')(value), ...(o.direction ? { direction: o.direction } : {}) };
        else throw usage(`<what> must be amount, policy or events-required, got "${what}"`);
        const out = await call('PUT', `/rules/${seg(name)}/${what}`, body);
        print(out, () => `rule ${name}: ${what} = ${value}`);
      }),
    );
  rule
    .command('add <json>')
    .description('Create or replace a rule from JSON text (checked before it is stored)')
    .action(
      action(async (text: string) => {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          throw usage('the rule must be JSON');
        }
        // The rule's name is its path: without one there is no route to PUT it on.
        if (body === null || typeof body !== 'object' || Array.isArray(body))
          throw usage('the rule must be a JSON object with a "name"');
        const name = (body as Obj).name;
        if (typeof name !== 'string' || name === '') throw usage('the rule needs a "name" (a string)');
        const out = await call('PUT', `/rules/${seg(name)}`, body);
        print(out, () => `rule ${name} saved`);
      }),
    );
  rule
    .command('rm <name>')
    .description('Delete a custom rule')
    .action(
      action(async (name: string) =>
        print(await call('DELETE', `/rules/${seg(name)}`), () => `rule ${name} deleted`),
      ),
    );

  // ---- config ----
  const config = program.command('config').description('Service configs (typed values) and heartbeats');
  config
    .command('get [service] [key]')
    .description('Show all services, one service, or one key')
    .action(
      action(async (service?: string, key?: string) => {
        if (service === undefined) {
          const rows = (await call('GET', '/services')) as Obj[];
          print(rows, (b: Obj[]) =>
            table(
              ['SERVICE', 'HEARTBEAT', 'VERSION', 'CONFIG'],
              b.map((s) => [
                s.name as string,
                ago(s.heartbeat as number | null, Date.now()),
                s.version as number,
                JSON.stringify(s.config),
              ]),
            ),
          );
          return;
        }
        const s = (await call('GET', `/services/${seg(service)}`)) as Obj;
        const cfg = s.config as Obj;
        if (key !== undefined) {
          if (!(key in cfg)) throw new CliError(`service ${service} has no config key ${key}`, EXIT.refused);
          io.out(
            globals().json
              ? JSON.stringify(cfg[key])
              : typeof cfg[key] === 'object'
                ? JSON.stringify(cfg[key])
                : String(cfg[key]),
          );
          return;
        }
        print(
          s,
          (b: Obj) =>
            `${keyValues(b.config as Obj)}\n\nheartbeat  ${ago(b.heartbeat as number | null, Date.now())}`,
        );
      }),
    );
  config
    .command('set <service> <key> <value>')
    .description(
      'Set one config key; the value is JSON when it parses (10, true, ["cpu","mem"]), else a string',
    )
    .action(
      action(async (service: string, key: string, value: string) => {
        const out = await call('PUT', `/services/${seg(service)}/config/${seg(key)}`, {
          value: configValue(value),
        });
        print(out, () => `${service}.${key} = ${JSON.stringify(configValue(value))}`);
      }),
    );

  // ---- scale ----
  program
    .command('scale <structure> <resource> [step]')
    .description(
      'Ask the planner for a step (+100, -50) of a container or application, or --max for a new max of a container',
    )
    .option('--max <value>', 'a new max instead of a step', int('--max'))
    .action(
      action(async (structure: string, resource: string, step: string | undefined, o: { max?: number }) => {
        if ((step === undefined) === (o.max === undefined))
          throw usage('give a step (+100, -50) or --max <value>');
        let body: Obj;
        if (step !== undefined) {
          if (!/^[+-]?\d+$/.test(step)) throw usage(`step must be like +100 or -50, got "${step}"`);
          body = { structure, resource, amount: Number(step) };
        } else body = { structure, resource, max: o.max };
        const out = (await call('POST', '/requests', body)) as Obj;
        print(out, (b: Obj) => {
          if (b.unchanged) return 'nothing to change';
          const r = b.request as Obj;
          const now = b.resource as Obj | null | undefined;
          return `planner accepted ${r.accepted}, ${r.orders} order(s) sent${(r.rejected as Obj[]).length ? `; rejected: ${(r.rejected as Obj[]).map((x) => x.reason).join('; ')}` : ''}${now ? `; ${structure} ${resource} now current ${now.current}, min ${now.min}, max ${now.max}` : ''}`;
        });
      }),
    );

  // ---- status ----
  program
    .command('status')
    .description('Containers: usage, current, applied, upper/lower, max, last decision and its reason')
    .option('--host <host>', 'only this host')
    .option('--watch [seconds]', 'refresh every few seconds (default 2) until interrupted')
    .addOption(
      new Option('--iterations <n>', 'stop --watch after n refreshes')
        .argParser(int('--iterations'))
        .hideHelp(),
    )
    .action(
      action(async (o: { host?: string; watch?: string | true; iterations?: number }) => {
        const period = o.watch === undefined ? 0 : o.watch === true ? 2 : Number(o.watch);
        if (o.watch !== undefined && !(period > 0)) throw usage('--watch takes a positive number of seconds');
        const render = async () => {
          const rows = (await call(
            'GET',
            '/status',
            undefined,
            o.host ? { host: o.host } : undefined,
          )) as Obj[];
          const now = Date.now();
          // The sweep's findings under the table (humans only: --json keeps the status rows alone).
          const recent = globals().json
            ? []
            : await api()
                .request('GET', '/findings', undefined, o.host ? { host: o.host } : undefined)
                .then((a) => (a.status === 200 && Array.isArray(a.body) ? (a.body as Obj[]) : []))
                .catch(() => []);
          print(rows, (b: Obj[]) =>
            b.length === 0
              ? 'no containers'
              : table(
                  [
                    'CONTAINER',
                    'RES',
                    'GUARD',
                    'USAGE',
                    'CURRENT',
                    'APPLIED',
                    'UPPER',
                    'LOWER',
                    'MAX',
                    'DECISION',
                    'REASON',
                    'WHEN',
                  ],
                  b.map((r) => statusRow(r, now)),
                ),
          );
          if (recent.length > 0) io.out(`\nFINDINGS (last 10 min)\n${findingsTable(recent, now)}`);
        };
        if (period === 0) return render();
        const stop = new AbortController();
        const onInt = () => stop.abort();
        process.once('SIGINT', onInt);
        try {
          for (let i = 0; !stop.signal.aborted && (o.iterations === undefined || i < o.iterations); i++) {
            if (!globals().json) io.out('\x1b[2J\x1b[H');
            await render();
            if (o.iterations !== undefined && i + 1 >= o.iterations) break;
            await sleep(period * 1000, undefined, { signal: stop.signal }).catch(() => undefined);
          }
        } finally {
          process.off('SIGINT', onInt);
        }
      }),
    );

  program
    .command('findings')
    .description("The sanity sweep's recent findings on hosts, their containers and rules, newest first")
    .option('--host <host>', 'only this host and its containers')
    .option('--since <seconds>', 'how far back (default 600)', int('--since'))
    .action(
      action(async (o: { host?: string; since?: number }) => {
        const rows = (await call('GET', '/findings', undefined, {
          ...(o.host === undefined ? {} : { host: o.host }),
          ...(o.since === undefined ? {} : { since: String(o.since) }),
        })) as Obj[];
        print(rows, (b: Obj[]) => (b.length === 0 ? 'no findings' : findingsTable(b, Date.now())));
      }),
    );

  program
    .command('openapi')
    .description('Print the OpenAPI document of the API')
    .action(action(async () => io.out(JSON.stringify(await call('GET', '/openapi.json'), null, 2))));
  return program;
}

/**
 * An error as one JSON line on stderr, for scripts (`--json`): the exit code, the message, and the
 * API's status and error body (error, message, field) when it answered.
 */
function jsonError(err: CliError): string {
  const body = err.answer?.body;
  return JSON.stringify({
    exitCode: err.exitCode,
    message: err.message,
    ...(err.answer === null ? {} : { status: err.answer.status }),
    ...(body !== null && typeof body === 'object' && !Array.isArray(body) ? body : {}),
  });
}

/** Runs `sc` with these arguments; returns the exit code (never exits the process). */
export async function main(argv: readonly string[], io: Io = defaultIo): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.usage;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version are not errors; usage mistakes are.
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.help'
        ? EXIT.ok
        : EXIT.usage;
    }
    const json = program.opts<{ json?: boolean }>().json === true;
    if (err instanceof CliError) {
      io.err(json ? jsonError(err) : `sc: ${err.message}`);
      return err.exitCode;
    }
    io.err(
      json
        ? JSON.stringify({ exitCode: EXIT.unavailable, message: `unexpected error: ${String(err)}` })
        : `sc: unexpected error: ${(err as Error).stack ?? String(err)}`,
    );
    return EXIT.unavailable;
  }
}

/** The CPU topology and memory of an agent's heartbeat (GET /hosts/{host}/agent), checked. */
export function fromAgentReport(body: unknown): { cpus: unknown[]; memMiB: number } {
  const t = (body as { topology?: { cpus?: unknown; memMiB?: unknown } } | null)?.topology;
  if (t === undefined || !Array.isArray(t.cpus) || t.cpus.length === 0 || typeof t.memMiB !== 'number')
    throw usage(
      "the host's agent reported no topology (an agent older than this CLI?): use --topology/--cores",
    );
  return { cpus: t.cpus, memMiB: t.memMiB };
}
