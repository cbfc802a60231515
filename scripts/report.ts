/**
 * Utilisation report over a recorded run, from the state snapshots:
 * per structure and resource, ∫usage ÷ ∫allocation and the mean slack
 * (allocation − usage) over [from, to].
 *
 * The integrals are left Riemann sums over the snapshots of `current`: each
 * snapshot's allocation (and the usage written with it) holds until the next
 * snapshot, and the last snapshot in range closes the integral. A snapshot
 * without a usage point (no data) counts as zero usage and is reported as
 * `noDataS`.
 *
 *   npx node scripts/report.ts --url http://127.0.0.1:8428 --from 2026-11-28T04:00:00Z --to 2026-11-28T05:00:00Z [--structure c1 …] [--resource cpu,mem] [--json]
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { PrometheusApi, PrometheusSeriesSource } from '../adapters/metrics/prometheus-api.ts';
import { Resource } from '../core/contracts/units.ts';
import type { Sample, SeriesSource } from '../core/ports/time-series.ts';

export interface UtilisationRow {
  structure: string;
  resource: Resource;
  /** Seconds covered by snapshots within the range. */
  coveredS: number;
  /** ∫ allocation dt, unit·s. */
  allocationIntegral: number;
  /** ∫ usage dt, unit·s. */
  usageIntegral: number;
  /** ∫usage ÷ ∫allocation; null when nothing was allocated. */
  utilisation: number | null;
  meanAllocation: number | null;
  meanUsage: number | null;
  /** Mean of (allocation − usage), in the resource's unit. */
  meanSlack: number | null;
  noDataS: number;
  snapshots: number;
}

/** Integrate one structure's allocation and usage samples (pure). */
export function integrate(
  current: readonly Sample[],
  usage: readonly Sample[],
): Omit<UtilisationRow, 'structure' | 'resource'> {
  const cur = [...current].sort((a, b) => a.t - b.t);
  const usageAt = new Map(usage.map((s) => [s.t, s.v]));
  let coveredMs = 0;
  let alloc = 0;
  let used = 0;
  let noDataMs = 0;
  for (let i = 0; i + 1 < cur.length; i++) {
    const a = cur[i] as Sample;
    const b = cur[i + 1] as Sample;
    const dt = b.t - a.t;
    coveredMs += dt;
    alloc += a.v * dt;
    const u = usageAt.get(a.t);
    if (u === undefined) noDataMs += dt;
    else used += u * dt;
  }
  const coveredS = coveredMs / 1000;
  const allocationIntegral = alloc / 1000;
  const usageIntegral = used / 1000;
  return {
    coveredS,
    allocationIntegral,
    usageIntegral,
    utilisation: allocationIntegral > 0 ? usageIntegral / allocationIntegral : null,
    meanAllocation: coveredS > 0 ? allocationIntegral / coveredS : null,
    meanUsage: coveredS > 0 ? usageIntegral / coveredS : null,
    meanSlack: coveredS > 0 ? (allocationIntegral - usageIntegral) / coveredS : null,
    noDataS: noDataMs / 1000,
    snapshots: cur.length,
  };
}

export async function utilisationReport(
  series: SeriesSource,
  opts: { fromMs: number; toMs: number; structures?: readonly string[]; resources: readonly Resource[] },
): Promise<UtilisationRow[]> {
  if (!(opts.toMs > opts.fromMs)) throw new InvalidArgumentError('--to must be after --from');
  const rows: UtilisationRow[] = [];
  for (const resource of opts.resources) {
    const names =
      opts.structures !== undefined && opts.structures.length > 0
        ? [...opts.structures]
        : await series.tagValues(`structure.${resource}.current`, 'structure', opts.fromMs, opts.toMs);
    for (const structure of names) {
      const [current, usage] = await Promise.all([
        series.samples(`structure.${resource}.current`, { structure }, opts.fromMs, opts.toMs),
        series.samples(`structure.${resource}.usage`, { structure }, opts.fromMs, opts.toMs),
      ]);
      if (current.length === 0) continue;
      rows.push({ structure, resource, ...integrate(current, usage) });
    }
  }
  return rows;
}

export function formatTable(rows: readonly UtilisationRow[]): string {
  const fmt = (v: number | null, digits = 1) => (v === null ? '—' : v.toFixed(digits));
  const header = [
    'structure',
    'resource',
    'covered s',
    'mean alloc',
    'mean usage',
    'utilisation',
    'mean slack',
    'no data s',
  ];
  const body = rows.map((r) => [
    r.structure,
    r.resource,
    fmt(r.coveredS, 0),
    fmt(r.meanAllocation),
    fmt(r.meanUsage),
    r.utilisation === null ? '—' : `${(r.utilisation * 100).toFixed(1)} %`,
    fmt(r.meanSlack),
    fmt(r.noDataS, 0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] as string).length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** ISO-8601, epoch ms, or "now". */
export function parseTime(value: string): number {
  if (value === 'now') return Date.now();
  if (/^\d{10,}$/.test(value)) return Number(value);
  const t = Date.parse(value);
  if (Number.isNaN(t))
    throw new InvalidArgumentError(`"${value}" is not a time (ISO-8601, epoch ms or "now")`);
  return t;
}

function parseResources(value: string): Resource[] {
  return value.split(',').map((r) => {
    const parsed = Resource.safeParse(r.trim());
    if (!parsed.success)
      throw new InvalidArgumentError(`unknown resource "${r}" (${Resource.options.join(', ')})`);
    return parsed.data;
  });
}

/** Usage errors and --help that commander has already written out. */
const printedByCommander = new WeakSet<Error>();

export async function main(
  argv: readonly string[],
  out: (s: string) => void = (s) => process.stdout.write(`${s}\n`),
): Promise<void> {
  const program = new Command('report')
    .description('utilisation (∫usage ÷ ∫allocation) and slack per structure from the state snapshots')
    .requiredOption('--from <time>', 'start (ISO-8601, epoch ms or "now")', parseTime)
    .requiredOption('--to <time>', 'end (ISO-8601, epoch ms or "now")', parseTime)
    .option(
      '--url <url>',
      'Prometheus query API of the snapshot store (env SC_PROM_URL)',
      process.env.SC_PROM_URL,
    )
    .option('--structure <name...>', 'only these structures')
    .option('--resource <list>', 'comma-separated resources', parseResources, ['cpu', 'mem'] as Resource[])
    .option('--json', 'print JSON instead of a table')
    .exitOverride();
  try {
    program.parse([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) printedByCommander.add(e);
    throw e;
  }
  const o = program.opts<{
    from: number;
    to: number;
    url?: string;
    structure?: string[];
    resource: Resource[];
    json?: boolean;
  }>();
  if (o.url === undefined || o.url === '')
    throw new InvalidArgumentError('--url (or SC_PROM_URL) is required');
  const rows = await utilisationReport(new PrometheusSeriesSource(new PrometheusApi(o.url)), {
    fromMs: o.from,
    toMs: o.to,
    resources: o.resource,
    ...(o.structure === undefined ? {} : { structures: o.structure }),
  });
  out(o.json === true ? JSON.stringify(rows, null, 2) : formatTable(rows));
}

/**
 * The command's exit code: 0 (also for --help), 1 on any error. Commander has already printed its own
 * usage errors and the help; other errors are printed here, once.
 */
export async function cli(
  argv: readonly string[],
  err: (s: string) => void = (s) => process.stderr.write(`${s}\n`),
): Promise<number> {
  try {
    await main(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError && printedByCommander.has(e)) return e.exitCode === 0 ? 0 : 1;
    err(`report: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) process.exitCode = await cli(process.argv.slice(2));
