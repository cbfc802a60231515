/**
 * CLI fuzz (issue 19): `sc` in-process against a recording HTTP server on
 * 127.0.0.1 that keeps the method, raw path and raw body of every request.
 * Names and numbers are generated hostile (dot segments, encodings, `%`,
 * slashes, unicode and lone surrogates, prototype names, empty strings, huge and
 * over-precise numbers). Each command either sends exactly what was typed — each
 * raw path segment decodes to the typed name, each number in the body is the
 * typed decimal — or refuses with a clear usage error (exit 2) and sends nothing.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { main } from '../../../cli/main.ts';

interface Recorded {
  method: string;
  rawPath: string;
  body: string;
}

/** A request path as the command should build it: literal segments and typed names. */
type Segment = string | { name: string };

interface Case {
  argv: string[];
  method: string;
  path: Segment[];
  /** Checks the raw body the API received (absent: the command sends no body). */
  body?: (raw: string) => void;
  /** The input is plainly valid, so refusing it would be a bug of its own. */
  mustSend: boolean;
}

// ---- an oracle for decimals, independent of cli/args.ts: sign, BigInt digits, exponent ----

function decimal(numeral: string): { neg: boolean; digits: bigint; exp: number } | null {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(numeral);
  if (m === null || `${m[2]}${m[3] ?? ''}` === '') return null;
  const fraction = m[3] ?? '';
  return {
    neg: m[1] === '-',
    digits: BigInt(`${m[2]}${fraction}` || '0'),
    exp: Number(m[4] ?? '0') - fraction.length,
  };
}

/** Whether two numerals denote the same decimal number (±0 alike). */
function sameDecimal(a: string, b: string): boolean {
  const x = decimal(a);
  const y = decimal(b);
  if (x === null || y === null) return false;
  if (x.digits === 0n || y.digits === 0n) return x.digits === y.digits;
  if (x.neg !== y.neg) return false;
  const low = Math.min(x.exp, y.exp);
  // Numerals whose exponents are far apart cannot be equal once both digit strings are short.
  if (Math.abs(x.exp - y.exp) > 2000) return false;
  return x.digits * 10n ** BigInt(x.exp - low) === y.digits * 10n ** BigInt(y.exp - low);
}

/** The numeral text of each number in a JSON body, by its key. */
function numerals(raw: string): Map<string, string> {
  const out = new Map<string, string>();
  JSON.parse(raw, (key: string, value: unknown, context?: { source?: string }) => {
    if (typeof value === 'number' && context?.source !== undefined) out.set(key, context.source);
    return value;
  });
  return out;
}

function expectNumber(raw: string, key: string, typed: string): void {
  const sent = numerals(raw).get(key);
  expect({ key, typed, sent, same: sent !== undefined && sameDecimal(typed, sent) }).toEqual({
    key,
    typed,
    sent,
    same: true,
  });
}

/** A config value: typed JSON when it parses (numbers exactly as typed), else the string itself. */
function expectConfigValue(raw: string, key: string, typed: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typed);
  } catch {
    expect((JSON.parse(raw) as Record<string, unknown>)[key]).toBe(typed);
    return;
  }
  if (typeof parsed === 'number') expectNumber(raw, key, typed);
  else expect((JSON.parse(raw) as Record<string, unknown>)[key]).toEqual(parsed);
}

// ---- generators ----

const hostileName = fc.constantFrom(
  '',
  '.',
  '..',
  '...',
  '%2e',
  '%2e%2e',
  '%2E%2e',
  '.%2e',
  '%',
  '%%',
  '%zz',
  '%25',
  '/',
  'a/b',
  '%2f',
  '\\',
  'a\\b',
  '..\\',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '?',
  '#',
  'a?b=c',
  'a#b',
  ' ',
  '\t',
  'é',
  'e\u0301',
  '日本',
  '😀',
  '\u0000',
  '\uD800',
  'a\uDC00b',
  '+',
  '&',
  ';',
  '=',
  "'",
  '"',
  '~',
  '*',
  'help',
  '-',
);
const nameChars = fc.constantFrom('.', '%', '/', '\\', '2', 'e', 'E', 'f', 'F', 'a', '_', '-', '~', ' ', 'é');
const name = fc.oneof(
  { arbitrary: hostileName, weight: 3 },
  { arbitrary: fc.string({ unit: nameChars, maxLength: 6 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 6 }), weight: 2 },
  { arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,10}$/), weight: 2 },
);

const hostileNumeral = fc.constantFrom(
  '1e309',
  '-1e309',
  '9007199254740993',
  '9007199254740992',
  '9007199254740991',
  '-9007199254740993',
  '+99999999999999999999',
  '99999999999999999999',
  '1e21',
  '1E2',
  '1.0',
  '1.50',
  '0.1',
  '0.30000000000000001',
  '5e-324',
  '2e-324',
  '-0',
  '00012',
  '.5',
  '5.',
  '0x10',
  '1_000',
  'NaN',
  'Infinity',
  '',
  '+1',
);
const numeral = fc.oneof(
  hostileNumeral,
  fc.integer().map(String),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
  fc.double().map(String),
  fc
    .tuple(fc.constantFrom('', '+', '-'), fc.bigInt({ min: 0n, max: 10n ** 25n }))
    .map(([s, n]) => `${s}${n}`),
);

/** A name the CLI has no reason to refuse: well-formed text, not empty or a dot segment, no slash. */
function plainName(n: string): boolean {
  return n !== '' && n !== '.' && n !== '..' && !/[/\\]/.test(n) && n.isWellFormed();
}
const safeInt = (t: string) => /^-?\d+$/.test(t) && Number.isSafeInteger(Number(t));

// ---- the commands, each with the request it must send (`--` ends the options: -x and -50 are arguments) ----

const resource = fc.constantFrom('cpu', 'mem', 'disk_read', 'disk_write', 'net');

const cases: fc.Arbitrary<Case> = fc.oneof(
  fc
    .tuple(fc.constantFrom('host', 'container', 'app', 'user', 'rule'), fc.constantFrom('show', 'rm'), name)
    .map(([noun, verb, n]) => ({
      argv: [noun, verb, '--', n],
      method: verb === 'show' ? 'GET' : 'DELETE',
      path: [
        { host: 'hosts', container: 'containers', app: 'apps', user: 'users', rule: 'rules' }[noun] ?? '',
        { name: n },
      ],
      mustSend: plainName(n),
    })),
  fc.tuple(fc.constantFrom('link', 'unlink'), name, name).map(([verb, u, a]) => ({
    argv: ['user', verb, '--', u, a],
    method: verb === 'link' ? 'PUT' : 'DELETE',
    path: ['users', { name: u }, 'apps', { name: a }],
    mustSend: plainName(u) && plainName(a),
  })),
  fc.tuple(fc.constantFrom('attach', 'detach'), name, name).map(([verb, a, c]) => ({
    argv: ['app', verb, '--', a, c],
    method: verb === 'attach' ? 'PUT' : 'DELETE',
    path: ['apps', { name: a }, 'containers', { name: c }],
    mustSend: plainName(a) && plainName(c),
  })),
  fc
    .tuple(
      fc.constantFrom('container', 'app', 'user'),
      name,
      resource,
      fc.constantFrom('max', 'min'),
      numeral,
    )
    .map(([noun, n, r, field, num]) => ({
      argv: [noun, 'set', '--', n, r, `${field}=${num}`],
      method: 'PUT',
      path: [
        { container: 'containers', app: 'apps', user: 'users' }[noun] ?? '',
        { name: n },
        'resources',
        r,
      ],
      body: (raw: string) => expectConfigValue(raw, field, num),
      mustSend: plainName(n) && safeInt(num),
    })),
  fc.tuple(name, name, numeral).map(([service, key, value]) => ({
    argv: ['config', 'set', '--', service, key, value],
    method: 'PUT',
    path: ['services', { name: service }, 'config', { name: key }],
    body: (raw: string) => expectConfigValue(raw, 'value', value),
    mustSend: plainName(service) && plainName(key) && safeInt(value),
  })),
  fc.tuple(name, fc.option(name, { nil: undefined })).map(([service, key]) => ({
    argv: ['config', 'get', '--', service, ...(key === undefined ? [] : [key])],
    method: 'GET',
    path: ['services', { name: service }],
    mustSend: plainName(service),
  })),
  fc.tuple(name, numeral).map(([n, amount]) => ({
    argv: ['rule', 'set', '--', n, 'amount', amount],
    method: 'PUT',
    path: ['rules', { name: n }, 'amount'],
    body: (raw: string) => expectNumber(raw, 'value', amount),
    mustSend: plainName(n) && safeInt(amount),
  })),
  fc.tuple(name, resource, numeral).map(([structure, r, step]) => ({
    argv: ['scale', '--', structure, r, step],
    method: 'POST',
    path: ['requests'],
    body: (raw: string) => {
      expect((JSON.parse(raw) as { structure: string }).structure).toBe(structure);
      expectNumber(raw, 'amount', step);
    },
    mustSend: /^[+-]?\d+$/.test(step) && Number.isSafeInteger(Number(step)),
  })),
  fc.tuple(name, numeral).map(([n, amount]) => ({
    argv: ['rule', 'add', '--', `{"name":${JSON.stringify(n)},"amount":${amount}}`],
    method: 'PUT',
    path: ['rules', { name: n }],
    body: (raw: string) => {
      expect((JSON.parse(raw) as { name: string }).name).toBe(n);
      expectNumber(raw, 'amount', amount);
    },
    // JSON numbers have no '+' and no leading zeros.
    mustSend: plainName(n) && safeInt(amount) && /^-?(0|[1-9]\d*)$/.test(amount),
  })),
  fc.tuple(name, name, numeral, name).map(([n, host, cpu, disk]) => ({
    argv: [
      'container',
      'add',
      '--host',
      host,
      '--cpu',
      `400:50:${cpu}`,
      '--mem',
      `1:1:${cpu}`,
      '--disk',
      `${disk}:/d`,
      '--',
      n,
    ],
    method: 'PUT',
    path: ['containers', { name: n }],
    body: (raw: string) => {
      const body = JSON.parse(raw) as { host: string; disk: { name: string; path: string } };
      expect(body.host).toBe(host);
      expect(body.disk).toEqual({ name: disk, path: '/d' });
      // cpu and mem both carry the typed current (numerals() keeps the last of a key).
      expectNumber(raw, 'current', cpu);
    },
    mustSend:
      plainName(n) &&
      /^\d+$/.test(cpu) &&
      Number.isSafeInteger(Number(cpu)) &&
      disk !== '' &&
      !disk.includes(':'),
  })),
  fc.tuple(name, numeral, name, numeral).map(([n, mem, disk, read]) => ({
    argv: ['host', 'add', '--mem', mem, '--disk', `${disk}:/data:${read}:7`, '--', n],
    method: 'PUT',
    path: ['hosts', { name: n }],
    body: (raw: string) => {
      expectNumber(raw, 'memMiB', mem);
      const disks = (JSON.parse(raw) as { disks: Record<string, { path: string }> }).disks;
      expect(Object.keys(disks)).toEqual([disk]);
      expect(Object.hasOwn(disks, disk) && disks[disk]?.path).toBe('/data');
      expectNumber(raw, 'readMiBps', read);
    },
    mustSend:
      plainName(n) &&
      safeInt(mem) &&
      !disk.includes(':') &&
      disk !== '' &&
      /^\d+$/.test(read) &&
      Number.isSafeInteger(Number(read)),
  })),
);

// ---- the recording server ----

describe('sc fuzzed against a recording API', () => {
  let server: Server;
  let url = '';
  const recorded: Recorded[] = [];
  const tally = { commands: 0, sent: 0, refused: 0, answeredNot2xx: 0 };

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
      });
      req.on('end', () => {
        recorded.push({ method: req.method ?? '', rawPath: req.url ?? '', body });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.close();
    // The corpus and its outcome, for the closing note.
    process.stdout.write(`sc fuzz: ${JSON.stringify(tally)}\n`);
  });

  it('sends exactly what was typed, or refuses with a clear usage error and sends nothing', async () => {
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        recorded.length = 0;
        const out: string[] = [];
        const err: string[] = [];
        const code = await main(['--json', ...c.argv], {
          out: (t) => out.push(t),
          err: (t) => err.push(t),
          env: { SC_API_URL: url, SC_API_TOKEN: 'fuzz' },
        });
        tally.commands++;
        const errors = err.join('\n');
        // Never a crash: no unexpected error, no stack trace.
        expect({ argv: c.argv, errors }).not.toEqual(
          expect.objectContaining({ errors: expect.stringMatching(/unexpected error|\n\s+at /) }),
        );
        if (code === 2) {
          tally.refused++;
          expect({ argv: c.argv, code, sent: recorded, mustSend: c.mustSend }).toEqual({
            argv: c.argv,
            code,
            sent: [],
            mustSend: false,
          });
          expect(errors).not.toBe('');
          return;
        }
        tally.sent++;
        // config get of a key the empty config lacks answers 1 after a correct request.
        expect([0, 1]).toContain(code);
        if (code !== 0) tally.answeredNot2xx++;
        expect(recorded).toHaveLength(1);
        const [req] = recorded as [Recorded];
        expect(req.method).toBe(c.method);
        const rawPath = req.rawPath.split('?')[0] ?? '';
        const segments = rawPath.slice(1).split('/');
        expect({ argv: c.argv, rawPath, count: segments.length }).toEqual({
          argv: c.argv,
          rawPath,
          count: c.path.length,
        });
        c.path.forEach((want, i) => {
          const raw = segments[i] ?? '';
          // Percent-encoded and nothing else: decoding the raw segment gives back the typed name.
          expect({ raw, decoded: decodeURIComponent(raw) }).toEqual({
            raw,
            decoded: typeof want === 'string' ? want : want.name,
          });
        });
        if (c.body === undefined) expect(req.body).toBe('');
        else c.body(req.body);
      }),
      // Bounded: at most 2,000 commands or 12 s, whichever comes first (a busy CI machine runs fewer).
      { numRuns: 2000, interruptAfterTimeLimit: 12_000, markInterruptAsFailure: false },
    );
    expect(Date.now() - started).toBeLessThan(20_000);
    // Both outcomes happen: the corpus holds plainly valid input and hostile input.
    expect(tally.commands).toBeGreaterThan(200);
    expect(tally.sent).toBeGreaterThan(tally.commands / 5);
    expect(tally.refused).toBeGreaterThan(tally.commands / 5);
  }, 60_000);
});
