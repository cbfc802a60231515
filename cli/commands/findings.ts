/** `sc findings`: the sanity sweep's recent findings. */
import type { Command } from 'commander';
import { int, type Obj } from '../args.ts';
import type { CliContext } from '../context.ts';
import { ago, table } from '../format.ts';

/** The findings as a table (also under `sc status`). */
export function findingsTable(rows: Obj[], now: number): string {
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

export function registerFindings(program: Command, ctx: CliContext): void {
  program
    .command('findings')
    .description("The sanity sweep's recent findings on hosts, their containers and rules, newest first")
    .option('--host <host>', 'only this host and its containers')
    .option('--since <seconds>', 'how far back (default 600)', int('--since'))
    .action(
      ctx.action(async (o: { host?: string; since?: number }) => {
        const rows = (await ctx.call('GET', '/findings', undefined, {
          ...(o.host === undefined ? {} : { host: o.host }),
          ...(o.since === undefined ? {} : { since: String(o.since) }),
        })) as Obj[];
        ctx.print(rows, (b: Obj[]) => (b.length === 0 ? 'no findings' : findingsTable(b, Date.now())));
      }),
    );
}
