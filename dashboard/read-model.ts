/**
 * What the dashboard shows, read from where the loop keeps it: state from the
 * DynamoDB table (host state, GUARD items, activity LOG items, rules) and
 * usage/allocation history from a Prometheus-API time-series store
 * (VictoriaMetrics fed in BDWatchdog's names by the host agent).
 *
 * Two narrow ports: `StateReader` (TableClient satisfies it) and `SeriesSource`
 * (`prometheusSeries(url)` below). `dashboardView(deps, window)` returns plain
 * JSON the page renders; the HTTP API can serve the same object.
 *
 * Series used (all optional — missing data is null, never 0):
 *   usage   cpu: proc.cpu.user + proc.cpu.kernel, mem: proc.mem.resident   tag host=<container>
 *   history structure.<res>.current, limit.<res>.upper, limit.<res>.lower   tag structure=<container>
 * When no allocation history exists, the state's present values are drawn flat
 * over the window (`allocationFromHistory: false`).
 */
import { MAX_PACK_SPAN_MS } from '../adapters/dynamodb/activity.ts';
import type { Activity } from '../core/contracts/activity.ts';
import type { GuardState } from '../core/contracts/guard-state.ts';
import {
  activityLinesFromItem,
  body,
  containerGuardItem,
  hostStateItem,
  isExpired,
} from '../core/contracts/items.ts';
import { Rule } from '../core/contracts/rule.ts';
import { keys } from '../core/contracts/table-layout.ts';
import { AGENT_CPU_METRIC, withIdleEvidence } from '../core/policy/idle-evidence.ts';

export interface StateReader {
  queryPartition(
    pk: string,
    opts?: { skPrefix?: string; skBetween?: readonly [string, string]; consistent?: boolean },
  ): Promise<Record<string, unknown>[]>;
  listKind(kind: string): Promise<string[]>;
}

export interface Series {
  labels: Record<string, string>;
  /** [epoch seconds, value] */
  points: [number, number][];
}

export interface SeriesSource {
  queryRange(query: string, range: { startS: number; endS: number; stepS: number }): Promise<Series[]>;
}

export const PLOTTED = ['cpu', 'mem'] as const;
export type Plotted = (typeof PLOTTED)[number];

export const USAGE_METRICS: Record<Plotted, readonly string[]> = {
  cpu: ['proc.cpu.user', 'proc.cpu.kernel'],
  mem: ['proc.mem.resident'],
};

export interface ResourcePlot {
  unit: string;
  /** Epoch seconds, shared by every line below. */
  t: number[];
  usage: (number | null)[];
  current: (number | null)[];
  upper: (number | null)[];
  lower: (number | null)[];
  max: (number | null)[];
  allocationFromHistory: boolean;
  now: {
    usage: number | null;
    current: number | null;
    upper: number | null;
    lower: number | null;
    max: number | null;
    min: number | null;
  };
}

export interface Marker {
  at: number;
  kind: string;
  resource: string | null;
  text: string;
  reasons: string[];
}

export interface ContainerView {
  name: string;
  guarded: boolean;
  plots: Record<Plotted, ResourcePlot>;
  markers: Marker[];
  lastDecision: string | null;
}

export interface HostView {
  name: string;
  version: number;
  degraded: boolean;
  capacity: { cpu: { max: number; free: number }; mem: { max: number; free: number } };
  containers: ContainerView[];
}

export interface DashboardView {
  at: number;
  window: { fromMs: number; toMs: number; stepS: number };
  hosts: HostView[];
  rules: { name: string; resource: string; generates: string; active: boolean; summary: string }[];
  warnings: string[];
}

export interface ReadModelDeps {
  state: StateReader;
  series: SeriesSource;
}

/** A regex matching `s` literally, spelled inside a PromQL double-quoted string. */
function escapeRegex(s: string): string {
  return s
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"');
}

/** One time axis over the window, then values of a series sampled onto it (null where absent). */
function axis(window: DashboardView['window']): number[] {
  const t: number[] = [];
  const start = Math.floor(window.fromMs / 1000 / window.stepS) * window.stepS;
  for (let s = start; s <= window.toMs / 1000; s += window.stepS) t.push(s);
  return t;
}

function onAxis(t: number[], points: [number, number][] | undefined): (number | null)[] {
  if (points === undefined) return t.map(() => null);
  const byTime = new Map(points.map(([s, v]) => [Math.round(s), v]));
  return t.map((s) => byTime.get(s) ?? null);
}

/**
 * A point without a usage reading is idle (0) where the agent's own series shows the container
 * ran idle then — the rule the Guardian's metrics adapters apply (core/policy/idle-evidence.ts);
 * memory, or no agent point, stays null: no data.
 */
function withIdle(res: Plotted, usage: (number | null)[], agentCpu: (number | null)[]): (number | null)[] {
  return usage.map((u, i) =>
    u === null ? (withIdleEvidence({ [res]: null }, agentCpu[i] ?? null)[res] ?? null) : u,
  );
}

function lastValue(values: (number | null)[]): number | null {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i] as number;
  return null;
}

function ruleSummary(rule: Rule): string {
  if (rule.generates === 'events') {
    return `${JSON.stringify(rule.rule)} → ${'up' in rule.action.events.scale ? 'up' : 'down'} event`;
  }
  return `${JSON.stringify(rule.rule)} → ${rule.rescale_type} by ${rule.rescale_policy}${
    rule.rescale_policy === 'fit_to_usage' ? '' : ` ${rule.amount}`
  }`;
}

export async function dashboardView(
  deps: ReadModelDeps,
  window: { fromMs: number; toMs: number; stepS: number },
): Promise<DashboardView> {
  const warnings: string[] = [];
  const t = axis(window);
  const range = {
    startS: t[0] ?? Math.floor(window.fromMs / 1000),
    endS: Math.ceil(window.toMs / 1000),
    stepS: window.stepS,
  };

  const [hostNames, ruleItems] = await Promise.all([
    deps.state.listKind('HOSTS'),
    deps.state.queryPartition(keys.rulesPartition, { consistent: false }),
  ]);
  const rules = ruleItems.flatMap((item) => {
    // `version` is the Catalog's bookkeeping beside the rule, not part of it.
    const { version: _version, ...fields } = body(item);
    const r = Rule.safeParse(fields);
    if (!r.success) {
      warnings.push(`rule ${String(item.sk)} does not parse: skipped`);
      return [];
    }
    return [
      {
        name: r.data.name,
        resource: r.data.resource,
        generates: r.data.generates,
        active: r.data.active,
        summary: ruleSummary(r.data),
      },
    ];
  });

  const hosts: HostView[] = [];
  for (const hostName of [...hostNames].sort()) {
    const items = await deps.state.queryPartition(keys.hostPartition(hostName), { consistent: false });
    const stateItem = items.find((i) => i.sk === keys.hostState(hostName).sk);
    const parsed = stateItem === undefined ? null : hostStateItem.safeFromItem(stateItem);
    if (parsed === null || !parsed.success) {
      warnings.push(`host ${hostName}: state item ${parsed === null ? 'missing' : 'does not parse'}`);
      continue;
    }
    const host = parsed.data;
    const guards = new Map<string, GuardState>();
    for (const item of items) {
      if (typeof item.sk !== 'string' || !item.sk.startsWith('GUARD#')) continue;
      const g = containerGuardItem.safeFromItem(item);
      if (g.success) guards.set(g.data.structure, g.data);
      else warnings.push(`host ${hostName}: ${item.sk} does not parse`);
    }
    const names = Object.keys(host.containers).sort();
    const series = await loadSeries(deps.series, names, range, warnings);
    // The control tick packs its lines (events, requests, orders) under the host's partition; a
    // packed item's sort key is its newest line's time, at most MAX_PACK_SPAN_MS after its oldest.
    const packed = await activityLines(
      deps.state,
      keys.activityPartition(hostName),
      window.fromMs,
      window.toMs + MAX_PACK_SPAN_MS,
      window.toMs,
    );
    const containers: ContainerView[] = [];
    for (const name of names) {
      const ct = host.containers[name];
      if (ct === undefined) continue;
      const guard = guards.get(name);
      const own = await activityLines(
        deps.state,
        keys.activityPartition(name),
        window.fromMs,
        window.toMs,
        window.toMs,
      );
      const markers = [...own, ...packed.filter((a) => a.structure === name)]
        .filter((a) => a.at >= window.fromMs && a.at <= window.toMs && a.kind !== 'report')
        .sort((a, b) => a.at - b.at)
        .map((a) => ({
          at: a.at,
          kind: a.kind,
          resource: a.resource,
          text: a.text,
          reasons: a.reasons.map((r) => `${r.source}: ${r.text}`),
        }));
      const plots = {} as Record<Plotted, ResourcePlot>;
      const agentCpu = onAxis(t, series.agentCpu.get(name));
      for (const res of PLOTTED) {
        const spec = ct.resources[res];
        const limits = guard?.limits[res];
        const usage = withIdle(res, onAxis(t, series.usage[res].get(name)), agentCpu);
        const hist = {
          current: series.history[res].current.get(name),
          upper: series.history[res].upper.get(name),
          lower: series.history[res].lower.get(name),
        };
        const fromHistory = hist.current !== undefined;
        const flat = (v: number | null | undefined) => t.map(() => v ?? null);
        const plot: ResourcePlot = {
          unit: res === 'cpu' ? 'shares' : 'MiB',
          t,
          usage,
          current: fromHistory ? onAxis(t, hist.current) : flat(spec?.current),
          upper: hist.upper !== undefined ? onAxis(t, hist.upper) : flat(limits?.upper),
          // Usage is never below 0: a lower limit under it (small allocation, large margin) plots as 0.
          lower: (hist.lower !== undefined ? onAxis(t, hist.lower) : flat(limits?.lower)).map(atLeastZero),
          max: flat(spec?.max),
          allocationFromHistory: fromHistory,
          now: {
            usage: lastValue(usage),
            current: spec?.current ?? null,
            upper: limits?.upper ?? null,
            lower: atLeastZero(limits?.lower ?? null),
            max: spec?.max ?? null,
            min: spec?.min ?? null,
          },
        };
        plots[res] = plot;
      }
      containers.push({
        name,
        guarded: ct.guard,
        plots,
        markers,
        lastDecision: guard?.lastDecision?.text ?? null,
      });
    }
    hosts.push({
      name: host.name,
      version: host.version,
      degraded: host.degraded,
      capacity: {
        cpu: { max: host.capacity.cpu.max, free: host.capacity.cpu.free },
        mem: { max: host.capacity.mem.max, free: host.capacity.mem.free },
      },
      containers,
    });
  }
  return { at: window.toMs, window, hosts, rules, warnings };
}

interface LoadedSeries {
  usage: Record<Plotted, Map<string, [number, number][]>>;
  /** The host agent's own CPU series per container: the evidence that tells idle from no data. */
  agentCpu: Map<string, [number, number][]>;
  history: Record<Plotted, Record<'current' | 'upper' | 'lower', Map<string, [number, number][]>>>;
}

/** A handful of queries per host, each covering all its containers (never one per container). */
async function loadSeries(
  source: SeriesSource,
  names: string[],
  range: { startS: number; endS: number; stepS: number },
  warnings: string[],
): Promise<LoadedSeries> {
  const empty = () => new Map<string, [number, number][]>();
  const out: LoadedSeries = {
    usage: { cpu: empty(), mem: empty() },
    agentCpu: empty(),
    history: {
      cpu: { current: empty(), upper: empty(), lower: empty() },
      mem: { current: empty(), upper: empty(), lower: empty() },
    },
  };
  if (names.length === 0) return out;
  const nameRe = names.map(escapeRegex).join('|');
  const query = async (q: string, by: string, into: Map<string, [number, number][]>) => {
    try {
      for (const s of await source.queryRange(q, range)) {
        const key = s.labels[by];
        if (key !== undefined) into.set(key, s.points);
      }
    } catch (err) {
      warnings.push(`time series unavailable: ${(err as Error).message}`);
    }
  };
  const jobs: Promise<void>[] = [
    query(`max by (host) ({__name__="${AGENT_CPU_METRIC}", host=~"${nameRe}"})`, 'host', out.agentCpu),
  ];
  for (const res of PLOTTED) {
    const metricRe = USAGE_METRICS[res].map(escapeRegex).join('|');
    jobs.push(query(`sum by (host) ({__name__=~"${metricRe}", host=~"${nameRe}"})`, 'host', out.usage[res]));
    jobs.push(
      query(
        `max by (structure) ({__name__="structure.${res}.current", structure=~"${nameRe}"})`,
        'structure',
        out.history[res].current,
      ),
    );
    for (const lim of ['upper', 'lower'] as const) {
      jobs.push(
        query(
          `max by (structure) ({__name__="limit.${res}.${lim}", structure=~"${nameRe}"})`,
          'structure',
          out.history[res][lim],
        ),
      );
    }
  }
  await Promise.all(jobs);
  return out;
}

/** SeriesSource over the Prometheus HTTP API (`/api/v1/query_range`), e.g. VictoriaMetrics. */
export function prometheusSeries(baseUrl: string, opts: { timeoutMs?: number } = {}): SeriesSource {
  return {
    async queryRange(query, range) {
      const url = new URL('/api/v1/query_range', baseUrl);
      url.searchParams.set('query', query);
      url.searchParams.set('start', String(range.startS));
      url.searchParams.set('end', String(range.endS));
      url.searchParams.set('step', `${range.stepS}s`);
      const res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 5000) });
      const text = await res.text();
      if (!res.ok) throw new Error(`query_range ${res.status}: ${text.slice(0, 600)}`);
      const parsed = JSON.parse(text) as {
        status: string;
        data?: { result?: { metric: Record<string, string>; values: [number, string][] }[] };
      };
      if (parsed.status !== 'success') throw new Error(`query_range status ${parsed.status}`);
      return (parsed.data?.result ?? []).map((r) => ({
        labels: r.metric,
        points: r.values
          .map(([s, v]) => [Number(s), Number(v)] as [number, number])
          .filter(([, v]) => Number.isFinite(v)),
      }));
    },
  };
}

/**
 * The activity lines of one LOG# partition written in [fromMs, toMs] (its items' sort keys), single
 * or packed; items past their TTL at `asOfMs` (not yet deleted by DynamoDB) and bad lines are left out.
 */
async function activityLines(
  state: StateReader,
  pk: string,
  fromMs: number,
  toMs: number,
  asOfMs: number,
): Promise<Activity[]> {
  const items = await state.queryPartition(pk, {
    skBetween: keys.activitySkBetween(fromMs, toMs),
    consistent: false,
  });
  return items.flatMap((item) => (isExpired(item, asOfMs) ? [] : activityLinesFromItem(item).lines));
}

function atLeastZero(v: number | null): number | null {
  return v === null ? null : Math.max(0, v);
}
