/** Hosts: register (with capacity and disks), list, show, deregister. */
import { type Command, Option } from 'commander';
import { collect, int, jsonArgument, type Obj, usage, wholeNumber } from '../args.ts';
import { apiPath } from '../client.ts';
import type { CliContext } from '../context.ts';
import { ago, keyValues, table } from '../format.ts';

export function registerHost(program: Command, ctx: CliContext): void {
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
      ctx.action(
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
          // Disk names are data: own keys of the body, never a prototype (`__proto__`).
          const disks = Object.fromEntries(
            (o.disk ?? []).map((d) => {
              const m = /^([^:]+):(\/[^:]*):(\d+):(\d+)$/.exec(d);
              if (m === null) throw usage(`--disk must be name:/path:readMiBps:writeMiBps, got "${d}"`);
              const [, disk, path, read, write] = m as unknown as [string, string, string, string, string];
              return [
                disk,
                { path, readMiBps: wholeNumber('--disk', read), writeMiBps: wholeNumber('--disk', write) },
              ];
            }),
          );
          let topology: unknown =
            o.topology === undefined
              ? undefined
              : jsonArgument('--topology', o.topology, '--topology must be JSON');
          let mem = o.mem;
          if (o.fromAgent === true) {
            if (o.topology !== undefined || o.cores !== undefined)
              throw usage('--from-agent takes the topology from the agent: drop --topology/--cores');
            const reported = fromAgentReport(await ctx.call('GET', apiPath`/hosts/${name}/agent`));
            topology = reported.cpus;
            if (mem !== undefined && mem > reported.memMiB)
              throw usage(`--mem ${mem} is above the ${reported.memMiB} MiB the agent reported`);
            mem ??= reported.memMiB;
          }
          if (mem === undefined) throw usage('--mem is required (or --from-agent)');
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
          const h = (await ctx.call('PUT', apiPath`/hosts/${name}`, body)) as Obj;
          ctx.print(h, (b: Obj) => `host ${b.name} registered (version ${b.version}), queue ${b.queueUrl}`);
        },
      ),
    );
  host
    .command('ls')
    .description('List hosts with free capacity')
    .action(
      ctx.action(async () => {
        const rows = (await ctx.call('GET', '/hosts')) as Obj[];
        ctx.print(rows, (b: Obj[]) =>
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
      ctx.action(async (name: string) => {
        const h = (await ctx.call('GET', apiPath`/hosts/${name}`)) as Obj;
        ctx.print(h, (b: Obj) => {
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
      ctx.action(async (name: string) => {
        ctx.print(await ctx.call('DELETE', apiPath`/hosts/${name}`), () => `host ${name} deregistered`);
      }),
    );
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
