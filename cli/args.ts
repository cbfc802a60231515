/**
 * What the operator typed, parsed once for every command: whole numbers,
 * resource specs (`max:min[:current]`), `field=value` pairs and typed JSON
 * values. A number is sent exactly as typed or refused with a usage error that
 * names the option — never rounded, never turned into `null` or `1e20`.
 */
import type { Command } from 'commander';
import { CliError, EXIT } from './client.ts';

export type Obj = Record<string, unknown>;

export const RESOURCES = ['cpu', 'mem', 'disk_read', 'disk_write', 'net'] as const;

export function usage(message: string): CliError {
  return new CliError(message, EXIT.usage);
}

/** An option parser for whole numbers (`--cores`, `--mem`, …). */
export function int(what: string) {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v)) throw usage(`${what} must be a whole number, got "${v}"`);
    return Number(v);
  };
}

export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** "max:min:current" (containers) or "max:min" (applications). */
export function spec(resource: string, text: string, withCurrent: boolean): Obj {
  const parts = text.split(':');
  const want = withCurrent ? 3 : 2;
  if (parts.length !== want || parts.some((p) => !/^\d+$/.test(p)))
    throw usage(
      `--${resource.replace('_', '-')} must be ${withCurrent ? 'max:min:current' : 'max:min'}, got "${text}"`,
    );
  const [max, min, current] = parts.map(Number);
  return withCurrent ? { max, min, current } : { max, min };
}

/** A config value as typed JSON when it parses (10, true, ["cpu"]), else the string itself. */
export function configValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** `max=N min=N weight=X current=N guard=B` as a body. */
export function fieldValues(pairs: string[]): Obj {
  const out: Obj = {};
  for (const p of pairs) {
    const m = /^(max|min|weight|current|guard)=(.+)$/.exec(p);
    if (m === null) throw usage(`expected max=N, min=N, weight=X, current=N or guard=true|false, got "${p}"`);
    out[m[1] as string] = configValue(m[2] as string);
  }
  if (Object.keys(out).length === 0)
    throw usage('give at least one of max=N, min=N, weight=X, guard=B, current=N');
  return out;
}

/** `--cpu --mem --disk-read --disk-write --net <spec>` on a command. */
export function addResourceOptions(c: Command, withCurrent: boolean): Command {
  const f = withCurrent ? 'max:min:current' : 'max:min';
  return c
    .option('--cpu <spec>', `cpu shares, ${f}`)
    .option('--mem <spec>', `memory MiB, ${f}`)
    .option('--disk-read <spec>', `disk read MiB/s, ${f}`)
    .option('--disk-write <spec>', `disk write MiB/s, ${f}`)
    .option('--net <spec>', `network Mbit/s, ${f}`);
}

/** The resources given by addResourceOptions' options, keyed by resource. */
export function resourcesFrom(o: Obj, withCurrent: boolean): Obj {
  const out: Obj = {};
  for (const r of RESOURCES) {
    const key = r.replace(/_(\w)/, (_m, c: string) => c.toUpperCase());
    const v = o[key];
    if (typeof v === 'string') out[r] = spec(r, v, withCurrent);
  }
  return out;
}
