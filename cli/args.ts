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

/**
 * The decimal a numeral denotes, written one way (sign, significant digits, exponent),
 * so `1.50`, `15e-1` and `1.5` compare equal; null when it is not a numeral.
 */
function decimalKey(numeral: string): string | null {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(numeral);
  if (m === null) return null;
  const [, sign, whole = '', fraction = '', exponent = '0'] = m;
  if (whole === '' && fraction === '') return null;
  const all = `${whole}${fraction}`.replace(/^0+/, '');
  if (all === '') return '0';
  const digits = all.replace(/0+$/, '');
  const exp = BigInt(exponent) - BigInt(fraction.length) + BigInt(all.length - digits.length);
  return `${sign === '-' ? '-' : ''}${digits}e${exp}`;
}

/** True when `value`, as JSON carries it, is the very number `numeral` spells. */
export function sentAsTyped(numeral: string, value: number): boolean {
  return Number.isFinite(value) && decimalKey(numeral) === decimalKey(JSON.stringify(value));
}

function inexact(what: string, numeral: string): CliError {
  return usage(
    `${what}: ${numeral} cannot be sent exactly as typed (a JSON number holds finite values of up to 15-17 significant digits)`,
  );
}

/** A whole number, sent exactly as typed. */
export function wholeNumber(what: string, text: string, pattern = /^-?\d+$/): number {
  if (!pattern.test(text)) throw usage(`${what} must be a whole number, got "${text}"`);
  const n = Number(text);
  if (!sentAsTyped(text, n)) throw inexact(what, text);
  return n;
}

/** An option parser for whole numbers (`--cores`, `--mem`, …). */
export function int(what: string) {
  return (v: string): number => wholeNumber(what, v);
}

export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** "max:min:current" (containers) or "max:min" (applications). */
export function spec(resource: string, text: string, withCurrent: boolean): Obj {
  const option = `--${resource.replace('_', '-')}`;
  const parts = text.split(':');
  const want = withCurrent ? 3 : 2;
  if (parts.length !== want || parts.some((p) => !/^\d+$/.test(p)))
    throw usage(`${option} must be ${withCurrent ? 'max:min:current' : 'max:min'}, got "${text}"`);
  const [max, min, current] = parts.map((p) => wholeNumber(option, p));
  return withCurrent ? { max, min, current } : { max, min };
}

/**
 * JSON text parsed with every number checked against its source text: a number
 * the JSON value would change (`1e309` → null, `9007199254740993` → …992) is
 * refused, naming `what`. Throws the SyntaxError of JSON.parse on bad JSON.
 */
export function exactJson(what: string, text: string): unknown {
  return JSON.parse(text, (_key: string, value: unknown, context?: { source?: string }) => {
    if (typeof value === 'number' && context?.source !== undefined && !sentAsTyped(context.source, value))
      throw inexact(what, context.source);
    return value;
  });
}

/** JSON text typed as an argument: `notJson` when it does not parse, a refusal naming `what` for a number JSON would change. */
export function jsonArgument(what: string, text: string, notJson: string): unknown {
  try {
    return exactJson(what, text);
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw usage(notJson);
  }
}

/**
 * A config value as typed JSON when it parses (10, true, ["cpu"]), else the string itself;
 * a number that JSON would change is refused.
 */
export function configValue(text: string, what = 'value'): unknown {
  try {
    return exactJson(what, text);
  } catch (err) {
    if (err instanceof CliError) throw err;
    return text;
  }
}

/** `max=N min=N weight=X current=N guard=B` as a body. */
export function fieldValues(pairs: string[]): Obj {
  const out: Obj = {};
  for (const p of pairs) {
    const m = /^(max|min|weight|current|guard)=(.+)$/.exec(p);
    if (m === null) throw usage(`expected max=N, min=N, weight=X, current=N or guard=true|false, got "${p}"`);
    out[m[1] as string] = configValue(m[2] as string, m[1] as string);
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
