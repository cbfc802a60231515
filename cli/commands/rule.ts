/** Scaling rules: list, show, activate, deactivate, change, create, delete. */
import { type Command, Option } from 'commander';
import { int, jsonArgument, type Obj, usage } from '../args.ts';
import { apiPath } from '../client.ts';
import type { CliContext } from '../context.ts';
import { table } from '../format.ts';

export function registerRule(program: Command, ctx: CliContext): void {
  const rule = program
    .command('rule')
    .description('Scaling rules: list, show, activate, deactivate, change, create, delete');
  rule
    .command('ls')
    .description('List rules')
    .action(
      ctx.action(async () => {
        const rows = (await ctx.call('GET', '/rules')) as Obj[];
        ctx.print(rows, (b: Obj[]) =>
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
      ctx.action(async (name: string) =>
        ctx.print(await ctx.call('GET', apiPath`/rules/${name}`), (b: Obj) => JSON.stringify(b, null, 2)),
      ),
    );
  for (const verb of ['activate', 'deactivate'] as const)
    rule
      .command(`${verb} <name>`)
      .description(`${verb === 'activate' ? 'Activate' : 'Deactivate'} a rule`)
      .action(
        ctx.action(async (name: string) =>
          ctx.print(await ctx.call('PUT', apiPath`/rules/${name}/${verb}`), () => `rule ${name} ${verb}d`),
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
      ctx.action(async (name: string, what: string, value: string, o: { direction?: string }) => {
        let body: Obj;
        if (what === 'amount') body = { value: int('amount')(value) };
        else if (what === 'policy') body = { value };
        else if (what === 'events-required')
          body = { value: int('events-required')(value), ...(o.direction ? { direction: o.direction } : {}) };
        else throw usage(`<what> must be amount, policy or events-required, got "${what}"`);
        const out = await ctx.call('PUT', apiPath`/rules/${name}/${what}`, body);
        ctx.print(out, () => `rule ${name}: ${what} = ${value}`);
      }),
    );
  rule
    .command('add <json>')
    .description('Create or replace a rule from JSON text (checked before it is stored)')
    .action(
      ctx.action(async (text: string) => {
        const body = jsonArgument('the rule', text, 'the rule must be JSON');
        // The rule's name is its path: without one there is no route to PUT it on.
        if (body === null || typeof body !== 'object' || Array.isArray(body))
          throw usage('the rule must be a JSON object with a "name"');
        const name = (body as Obj).name;
        if (typeof name !== 'string' || name === '') throw usage('the rule needs a "name" (a string)');
        const out = await ctx.call('PUT', apiPath`/rules/${name}`, body);
        ctx.print(out, () => `rule ${name} saved`);
      }),
    );
  rule
    .command('rm <name>')
    .description('Delete a custom rule')
    .action(
      ctx.action(async (name: string) =>
        ctx.print(await ctx.call('DELETE', apiPath`/rules/${name}`), () => `rule ${name} deleted`),
      ),
    );
}
