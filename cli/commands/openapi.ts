/** `sc openapi`: the API's OpenAPI document. */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';

export function registerOpenapi(program: Command, ctx: CliContext): void {
  program
    .command('openapi')
    .description('Print the OpenAPI document of the API')
    .action(
      ctx.action(async () => ctx.io.out(JSON.stringify(await ctx.call('GET', '/openapi.json'), null, 2))),
    );
}
