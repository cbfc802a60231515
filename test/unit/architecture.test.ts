/**
 * The import rules of docs/architecture.md, checked on the import graph that
 * scripts/gen-architecture.ts reads with the TypeScript compiler. The allowlists
 * name today's offenders; each entry must still offend (so a fixed one is taken
 * off), and none may be added.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  ARCHITECTURE_DOC,
  importCycles,
  importGraph,
  longFunctions,
  renderMermaid,
  sourceFiles,
  spliceArchitectureDoc,
} from '../../scripts/gen-architecture.ts';
import { ROOT } from '../../scripts/package.ts';

// Empty: every function is short. An entry must still offend, so none can linger.
const ALLOWED_LONG_FUNCTIONS: readonly string[] = [];
// Empty: the Guardian sees the table through its port.
const ALLOWED_GUARDIAN_KEY_LAYOUT: readonly string[] = [];

const MAX_FUNCTION_LINES = 200;
/**
 * What the host agent may take from adapters/: a logger, a clock, the environment parsers, and the
 * AWS call recorder (its calls are proven against its IAM role like the functions').
 */
const SHARED_WITH_AGENT = [
  'adapters/aws-calls.ts',
  'adapters/clock.ts',
  'adapters/env.ts',
  'adapters/logger.ts',
  // The OpenTSDB put client: the agent's usage publisher and the snapshoter put points the same way.
  'adapters/opentsdb-put.ts',
  'adapters/platform-env.ts',
];
/** Packages core/ may import, and the pure node modules a floor of core/ may use. */
const CORE_PACKAGES = ['json-logic-js', 'zod'];
const CORE_NODE_MODULES: Record<string, readonly string[]> = { 'core/contracts/': ['node:zlib'] };
/** Reading the environment, the clock or chance: never in core/ (`now` is an argument). */
const CORE_FORBIDDEN_TEXT = [/process\.env/, /Date\.now\(/, /new Date\(/, /Math\.random\(/];
/** The table's key layout, spelled out: it belongs to the store adapters, behind a port. */
const KEY_LAYOUT = /GUARD#|\bkeys\.|\.pk\b|\.sk\b/;
/** A server or socket in a Lambda's code is a local-only server. */
const SERVER_MODULES = ['node:http', 'node:http2', 'node:https', 'node:net', 'http', 'https', 'net'];

const graph = importGraph();
const files = [...graph.keys()];
const source = files.filter((f) => !f.startsWith('test/') && !f.startsWith('types/'));
const under = (dir: string) => (f: string) => f.startsWith(dir);
const text = (f: string) => readFileSync(join(ROOT, f), 'utf8');

/** `file → import` for every import of `from` files that `bad` refuses. */
function violations(
  from: (f: string) => boolean,
  bad: (dep: string, file: string) => boolean,
  which: 'local' | 'all' = 'all',
): string[] {
  const out: string[] = [];
  for (const f of files.filter(from)) {
    const imports = graph.get(f);
    const deps = [...(imports?.local ?? []), ...(which === 'all' ? (imports?.external ?? []) : [])];
    for (const dep of deps) if (bad(dep, f)) out.push(`${f} → ${dep}`);
  }
  return out;
}

describe('the import graph', () => {
  it('reads every .ts file outside node_modules, with its imports resolved', () => {
    expect(files).toEqual(sourceFiles());
    expect(graph.get('host-agent/consumer.ts')?.local).toContain('core/contracts/order-queue.ts');
    expect(graph.get('core/contracts/order-queue.ts')?.external).toEqual([]);
  });
});

describe('import rules (docs/architecture.md)', () => {
  it('has no import cycle among non-test files', () => {
    expect(importCycles(graph, (f) => source.includes(f))).toEqual([]);
  });

  it('core/ imports only core/, zod, json-logic-js and the pure node modules its floor allows', () => {
    const bad = violations(under('core/'), (dep, f) => {
      if (dep.startsWith('core/')) return false;
      if (CORE_PACKAGES.includes(dep)) return false;
      return !Object.entries(CORE_NODE_MODULES).some(
        ([dir, mods]) => f.startsWith(dir) && mods.includes(dep),
      );
    });
    expect(bad).toEqual([]);
  });

  it('core/ reads no environment, clock or randomness', () => {
    const bad = source
      .filter(under('core/'))
      .flatMap((f) => CORE_FORBIDDEN_TEXT.filter((re) => re.test(text(f))).map((re) => `${f}: ${re}`));
    expect(bad).toEqual([]);
  });

  it('the host agent imports core/, its own code and only the logger, clock and env parsers of adapters/', () => {
    const bad = violations(
      under('host-agent/'),
      (dep) => !dep.startsWith('core/') && !dep.startsWith('host-agent/') && !SHARED_WITH_AGENT.includes(dep),
      'local',
    );
    expect(bad).toEqual([]);
    expect(
      violations(under('host-agent/'), (dep) => /^adapters\/(dynamodb|sqs|metrics)\//.test(dep)),
    ).toEqual([]);
  });

  it('adapters/ import nothing from the floors above them', () => {
    const above = /^(functions|host-agent|local|cli|bench|scripts|dashboard)\//;
    expect(violations(under('adapters/'), (dep) => above.test(dep))).toEqual([]);
  });

  it('functions/ hold no local-only server', () => {
    expect(violations(under('functions/'), (dep) => SERVER_MODULES.includes(dep))).toEqual([]);
    expect(source.filter(under('functions/')).filter((f) => /\.listen\(/.test(text(f)))).toEqual([]);
  });

  it('functions/guardian spells no key layout but in the allowlisted files', () => {
    const offenders = source.filter(under('functions/guardian/')).filter((f) => KEY_LAYOUT.test(text(f)));
    expect(offenders).toEqual(ALLOWED_GUARDIAN_KEY_LAYOUT);
  });

  it(`has no function longer than ${MAX_FUNCTION_LINES} lines outside test/ and bench/ but the allowlisted ones`, () => {
    const long = source
      .filter((f) => !f.startsWith('bench/'))
      .flatMap((f) => longFunctions(f, MAX_FUNCTION_LINES))
      .map((l) => l.id)
      .sort();
    expect(long).toEqual(ALLOWED_LONG_FUNCTIONS);
  });
});

describe('the rules catch what they are meant to', () => {
  it('finds a cycle and measures a long function', () => {
    const g = new Map([
      ['a.ts', { local: ['b.ts'], external: [] }],
      ['b.ts', { local: ['c.ts'], external: [] }],
      ['c.ts', { local: ['a.ts'], external: [] }],
      ['d.ts', { local: ['a.ts'], external: [] }],
    ]);
    expect(importCycles(g, () => true)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
    expect(longFunctions('core/policy/guardian/decide.ts', 50).map((l) => l.id)).toContain(
      'core/policy/guardian/decide.ts:decide',
    );
  });
});

describe('docs/architecture.md', () => {
  it('holds the picture `npm run docs` draws from the import graph now (run it after moving imports)', () => {
    const doc = readFileSync(ARCHITECTURE_DOC, 'utf8');
    expect(doc).toBe(spliceArchitectureDoc(doc, renderMermaid(graph)));
  });
});
