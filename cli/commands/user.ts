/** Users: create, change, list, show, delete, link and unlink applications. */
import type { Command } from 'commander';
import { type Obj, resourcesFrom } from '../args.ts';
import { apiPath } from '../client.ts';
import { type CliContext, setResource } from '../context.ts';
import { keyValues, table } from '../format.ts';

export function registerUser(program: Command, ctx: CliContext): void {
  const user = program.command('user').description('Users: create, change, delete, link applications');
  user
    .command('add <name>')
    .description('Create a user, or replace its resources (sc user set changes one)')
    .option('--cpu <max:min>', 'cpu shares')
    .option('--mem <max:min>', 'memory MiB')
    .action(
      ctx.action(async (name: string, o: Obj) => {
        ctx.print(
          await ctx.call('PUT', apiPath`/users/${name}`, { resources: resourcesFrom(o, false) }),
          () => `user ${name} saved`,
        );
      }),
    );
  user
    .command('set <name> <resource> <field=value...>')
    .description("Set a user's max or min of a resource (its applications' max must fit under its max)")
    .action(setResource(ctx, 'users'));
  user
    .command('ls')
    .description('List users')
    .action(
      ctx.action(async () => {
        const rows = (await ctx.call('GET', '/users')) as Obj[];
        ctx.print(rows, (b: Obj[]) =>
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
      ctx.action(async (name: string) =>
        ctx.print(await ctx.call('GET', apiPath`/users/${name}`), (b: Obj) => keyValues(b)),
      ),
    );
  user
    .command('rm <name>')
    .description('Delete a user (its applications are unlinked)')
    .action(
      ctx.action(async (name: string) =>
        ctx.print(await ctx.call('DELETE', apiPath`/users/${name}`), () => `user ${name} deleted`),
      ),
    );
  user
    .command('link <user> <app>')
    .description('Link an application to a user')
    .action(
      ctx.action(async (u: string, a: string) =>
        ctx.print(await ctx.call('PUT', apiPath`/users/${u}/apps/${a}`), () => `${a} linked to ${u}`),
      ),
    );
  user
    .command('unlink <user> <app>')
    .description('Unlink an application from a user')
    .action(
      ctx.action(async (u: string, a: string) =>
        ctx.print(await ctx.call('DELETE', apiPath`/users/${u}/apps/${a}`), () => `${a} unlinked from ${u}`),
      ),
    );
}
