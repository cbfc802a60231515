/** Containers: subscribe to a host, list, show, change resources, guard, limits, unsubscribe. */
import { type Command, Option } from 'commander';
import { addResourceOptions, fieldValues, int, type Obj, resourcesFrom, usage } from '../args.ts';
import { apiPath } from '../client.ts';
import { type CliContext, setGuard, setLimits } from '../context.ts';
import { keyValues, table } from '../format.ts';

export function registerContainer(program: Command, ctx: CliContext): void {
  const ct = program
    .command('container')
    .description('Subscribe, list, show, change and unsubscribe containers');
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
      ctx.action(async (name: string, o: Obj) => {
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
        const c = (await ctx.call('PUT', apiPath`/containers/${name}`, body)) as Obj;
        ctx.print(c, (b: Obj) => {
          const cont = b.container as Obj;
          return `container ${name} subscribed to ${cont.host}${(cont.cores as string[]).length ? ` on cores ${(cont.cores as string[]).join(',')}` : ''}${b.orderSent === false ? ' (order not sent yet; the sanity sweep re-sends)' : ''}`;
        });
      }),
    );
  ct.command('ls')
    .description('List containers')
    .action(
      ctx.action(async () => {
        const rows = (await ctx.call('GET', '/containers')) as Obj[];
        ctx.print(rows, (b: Obj[]) =>
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
      ctx.action(async (name: string) => {
        const c = (await ctx.call('GET', apiPath`/containers/${name}`)) as Obj;
        ctx.print(c, (b: Obj) => {
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
      ctx.action(async (name: string) => {
        ctx.print(
          await ctx.call('DELETE', apiPath`/containers/${name}`),
          () => `container ${name} unsubscribed`,
        );
      }),
    );
  ct.command('set <name> <resource> <field=value...>')
    .description('Set max, min, weight, guard of a resource; current=N alone goes through the planner')
    .action(
      ctx.action(async (name: string, resource: string, pairs: string[]) => {
        const out = await ctx.call(
          'PUT',
          apiPath`/containers/${name}/resources/${resource}`,
          fieldValues(pairs),
        );
        ctx.print(
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
      .action(setGuard(ctx, 'containers', guard));
  ct.command('limits <name> <resource>')
    .description("Set a resource's boundary (0-100) and/or boundary type")
    .option('--boundary <percent>', 'boundary, percent', int('--boundary'))
    .addOption(
      new Option('--type <type>', 'boundary type').choices(['percentage_of_max', 'percentage_of_current']),
    )
    .action(setLimits(ctx, 'containers'));
}
