/** `sc status`: every container's usage, allocation, limits and last decision (optionally watched). */
import { setTimeout as sleep } from 'node:timers/promises';
import { type Command, Option } from 'commander';
import { int, type Obj, usage } from '../args.ts';
import type { CliContext } from '../context.ts';
import { ago, table } from '../format.ts';
import { findingsTable } from './findings.ts';

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

const MAX_WATCH_SECONDS = 86_400;

/** Services GET /services marks stale (active, silent three periods): their loop is not running. */
async function printStaleServices(ctx: CliContext, now: number): Promise<void> {
  const services = await ctx
    .api()
    .request('GET', '/services')
    .then((a) => (a.status === 200 && Array.isArray(a.body) ? (a.body as Obj[]) : []))
    .catch(() => []);
  const stale = services.filter((s) => s.stale === true && typeof s.name === 'string');
  if (stale.length === 0) return;
  const rows = stale.map((s) => [
    s.name as string,
    typeof s.heartbeat === 'number' ? ago(s.heartbeat, now) : 'never',
  ]);
  ctx.io.out(
    `\nSTALE SERVICES (active, no heartbeat for three periods)\n${table(['SERVICE', 'HEARTBEAT'], rows)}`,
  );
}

export function registerStatus(program: Command, ctx: CliContext): void {
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
      ctx.action(async (o: { host?: string; watch?: string | true; iterations?: number }) => {
        const period = o.watch === undefined ? 0 : o.watch === true ? 2 : Number(o.watch);
        // A plain decimal: `1e309` is Infinity, which a timer clamps to one millisecond.
        if (
          o.watch !== undefined &&
          (!(period > 0 && period <= MAX_WATCH_SECONDS) ||
            (o.watch !== true && !/^\d+(\.\d+)?$/.test(o.watch)))
        )
          throw usage(
            `--watch takes a number of seconds above 0 and up to ${MAX_WATCH_SECONDS}, got "${o.watch}"`,
          );
        const render = async () => {
          const rows = (await ctx.call(
            'GET',
            '/status',
            undefined,
            o.host ? { host: o.host } : undefined,
          )) as Obj[];
          const now = Date.now();
          // The sweep's findings under the table (humans only: --json keeps the status rows alone).
          const recent = ctx.globals().json
            ? []
            : await ctx
                .api()
                .request('GET', '/findings', undefined, o.host ? { host: o.host } : undefined)
                .then((a) => (a.status === 200 && Array.isArray(a.body) ? (a.body as Obj[]) : []))
                .catch(() => []);
          ctx.print(rows, (b: Obj[]) =>
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
          if (recent.length > 0) ctx.io.out(`\nFINDINGS (last 10 min)\n${findingsTable(recent, now)}`);
          if (!ctx.globals().json) await printStaleServices(ctx, now);
        };
        if (period === 0) return render();
        const stop = new AbortController();
        const onInt = () => stop.abort();
        process.once('SIGINT', onInt);
        try {
          for (let i = 0; !stop.signal.aborted && (o.iterations === undefined || i < o.iterations); i++) {
            if (!ctx.globals().json) ctx.io.out('\x1b[2J\x1b[H');
            await render();
            if (o.iterations !== undefined && i + 1 >= o.iterations) break;
            await sleep(period * 1000, undefined, { signal: stop.signal }).catch(() => undefined);
          }
        } finally {
          process.off('SIGINT', onInt);
        }
      }),
    );
}
