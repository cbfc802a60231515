/**
 * `npm run bench` runs every group; `npm run bench -- <group> [<group> …]` runs some.
 * A group is bench/<group>.ts exporting `run(emit)`. Figures go to stdout as JSON
 * lines; progress and notes go to stderr.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Emit, printFigure } from './figure.ts';

interface BenchGroup {
  run(emit: Emit): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
const NOT_GROUPS = new Set(['run', 'figure']);
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  .map((f) => f.slice(0, -3))
  .filter((g) => !NOT_GROUPS.has(g))
  .sort();

const asked = process.argv.slice(2);
const unknown = asked.filter((g) => !available.includes(g));
if (unknown.length > 0) {
  process.stderr.write(`unknown bench group(s): ${unknown.join(', ')}; available: ${available.join(', ')}\n`);
  process.exitCode = 2;
} else {
  for (const group of asked.length > 0 ? asked : available) {
    process.stderr.write(`bench ${group}…\n`);
    const mod = (await import(join(here, `${group}.ts`))) as BenchGroup;
    await mod.run(printFigure);
  }
}
