/** `sc scale`: a manual request to the planner (a step, or a new max). */
import type { Command } from 'commander';
import { int, type Obj, usage, wholeNumber } from '../args.ts';
import type { CliContext } from '../context.ts';

export function registerScale(program: Command, ctx: CliContext): void {
  program
    .command('scale <structure> <resource> [step]')
    .description(
      'Ask the planner for a step (+100, -50) of a container or application, or --max for a new max of a container',
    )
    .option('--max <value>', 'a new max instead of a step', int('--max'))
    .action(
      ctx.action(
        async (structure: string, resource: string, step: string | undefined, o: { max?: number }) => {
          if ((step === undefined) === (o.max === undefined))
            throw usage('give a step (+100, -50) or --max <value>');
          let body: Obj;
          if (step !== undefined) {
            if (!/^[+-]?\d+$/.test(step)) throw usage(`step must be like +100 or -50, got "${step}"`);
            body = { structure, resource, amount: wholeNumber('step', step, /^[+-]?\d+$/) };
          } else body = { structure, resource, max: o.max };
          const out = (await ctx.call('POST', '/requests', body)) as Obj;
          ctx.print(out, (b: Obj) => {
            if (b.unchanged) return 'nothing to change';
            const r = b.request as Obj;
            const now = b.resource as Obj | null | undefined;
            return `planner accepted ${r.accepted}, ${r.orders} order(s) sent${(r.rejected as Obj[]).length ? `; rejected: ${(r.rejected as Obj[]).map((x) => x.reason).join('; ')}` : ''}${now ? `; ${structure} ${resource} now current ${now.current}, min ${now.min}, max ${now.max}` : ''}`;
          });
        },
      ),
    );
}
