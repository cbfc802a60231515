/** Applications: create, change, guard, limits, list, show, delete, attach and detach containers. */
import { type Command, Option } from 'commander';
import { addResourceOptions, int, type Obj, resourcesFrom } from '../args.ts';
import { apiPath } from '../client.ts';
import { type CliContext, setGuard, setLimits, setResource } from '../context.ts';
import { keyValues, table } from '../format.ts';

export function registerApp(program: Command, ctx: CliContext): void {
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
      ctx.action(async (name: string, o: Obj) => {
        const out = await ctx.call('PUT', apiPath`/apps/${name}`, {
          guard: o.guard === true,
          resources: resourcesFrom(o, false),
        });
        ctx.print(out, () => `application ${name} saved`);
      }),
    );
  app
    .command('set <name> <resource> <field=value...>')
    .description("Set max, min, weight or guard of an application's resource (the others are kept)")
    .action(setResource(ctx, 'apps'));
  for (const [verb, guard] of [
    ['guard', true],
    ['unguard', false],
  ] as const)
    app
      .command(`${verb} <name> [resources...]`)
      .description(
        `${verb === 'guard' ? 'Let' : 'Stop'} the Guardian ${verb === 'guard' ? 'scale' : 'scaling'} an application as a whole (or only some resources)`,
      )
      .action(setGuard(ctx, 'apps', guard));
  app
    .command('limits <name> <resource>')
    .description("Set an application resource's boundary (0-100) and/or boundary type")
    .option('--boundary <percent>', 'boundary, percent', int('--boundary'))
    .addOption(
      new Option('--type <type>', 'boundary type').choices(['percentage_of_max', 'percentage_of_current']),
    )
    .action(setLimits(ctx, 'apps'));
  app
    .command('ls')
    .description('List applications')
    .action(
      ctx.action(async () => {
        const rows = (await ctx.call('GET', '/apps')) as Obj[];
        ctx.print(rows, (b: Obj[]) =>
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
      ctx.action(async (name: string) =>
        ctx.print(await ctx.call('GET', apiPath`/apps/${name}`), (b: Obj) => keyValues(b)),
      ),
    );
  app
    .command('rm <name>')
    .description('Delete an application without containers')
    .action(
      ctx.action(async (name: string) =>
        ctx.print(await ctx.call('DELETE', apiPath`/apps/${name}`), () => `application ${name} deleted`),
      ),
    );
  app
    .command('attach <app> <container>')
    .description('Add a container to an application')
    .action(
      ctx.action(async (a: string, c: string) =>
        ctx.print(await ctx.call('PUT', apiPath`/apps/${a}/containers/${c}`), () => `${c} added to ${a}`),
      ),
    );
  app
    .command('detach <app> <container>')
    .description('Remove a container from an application')
    .action(
      ctx.action(async (a: string, c: string) =>
        ctx.print(
          await ctx.call('DELETE', apiPath`/apps/${a}/containers/${c}`),
          () => `${c} removed from ${a}`,
        ),
      ),
    );
}
