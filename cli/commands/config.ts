/** Service configs (typed values) and heartbeats. */
import type { Command } from 'commander';
import { configValue, type Obj } from '../args.ts';
import { apiPath, CliError, EXIT } from '../client.ts';
import type { CliContext } from '../context.ts';
import { ago, keyValues, table } from '../format.ts';

export function registerConfig(program: Command, ctx: CliContext): void {
  const config = program.command('config').description('Service configs (typed values) and heartbeats');
  config
    .command('get [service] [key]')
    .description('Show all services, one service, or one key')
    .action(
      ctx.action(async (service?: string, key?: string) => {
        if (service === undefined) {
          const rows = (await ctx.call('GET', '/services')) as Obj[];
          ctx.print(rows, (b: Obj[]) =>
            table(
              ['SERVICE', 'HEARTBEAT', 'VERSION', 'CONFIG'],
              b.map((s) => [
                s.name as string,
                `${ago(s.heartbeat as number | null, Date.now())}${s.stale === true ? ' STALE' : ''}`,
                s.version as number,
                JSON.stringify(s.config),
              ]),
            ),
          );
          return;
        }
        const s = (await ctx.call('GET', apiPath`/services/${service}`)) as Obj;
        const cfg = (s.config ?? {}) as Obj;
        if (key !== undefined) {
          if (!Object.hasOwn(cfg, key))
            throw new CliError(`service ${service} has no config key ${key}`, EXIT.refused);
          ctx.io.out(
            ctx.globals().json
              ? JSON.stringify(cfg[key])
              : typeof cfg[key] === 'object'
                ? JSON.stringify(cfg[key])
                : String(cfg[key]),
          );
          return;
        }
        ctx.print(
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
      ctx.action(async (service: string, key: string, value: string) => {
        const typed = configValue(value, key);
        const out = await ctx.call('PUT', apiPath`/services/${service}/config/${key}`, {
          value: typed,
        });
        ctx.print(out, () => `${service}.${key} = ${JSON.stringify(typed)}`);
      }),
    );
}
