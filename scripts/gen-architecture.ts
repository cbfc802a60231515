/**
 * The import graph of the repository, read with the TypeScript compiler
 * (`ts.preProcessFile`, static and dynamic imports), and `npm run docs`'s
 * picture of it: a mermaid graph of folders spliced into docs/architecture.md
 * between its `import-graph` markers. test/unit/architecture.test.ts enforces
 * the import rules on the same graph and fails when the picture is stale.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { ROOT } from './package.ts';

export const ARCHITECTURE_DOC = join(ROOT, 'docs/architecture.md');
const SKIP_DIRS = new Set(['node_modules', '.git', '.build', '.serverless', 'dist', 'coverage', 'artifacts']);

/** Every .ts file of the repository outside node_modules (and build output), repo-relative, sorted. */
export function sourceFiles(root = ROOT): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name) && !e.name.startsWith('.')) walk(join(dir, e.name));
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
        out.push(relative(root, join(dir, e.name)));
    }
  };
  walk(root);
  return out.sort();
}

export interface FileImports {
  /** Repo-relative files this file imports (relative specifiers, resolved). */
  local: string[];
  /** Package and `node:` specifiers, as written. */
  external: string[];
}

/** The imports of every source file, keyed by repo-relative path. */
export function importGraph(root = ROOT, files = sourceFiles(root)): Map<string, FileImports> {
  const graph = new Map<string, FileImports>();
  for (const file of files) {
    const info = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true);
    const local = new Set<string>();
    const external = new Set<string>();
    for (const { fileName } of info.importedFiles) {
      if (fileName.startsWith('.')) local.add(relative(root, resolve(root, dirname(file), fileName)));
      else external.add(fileName);
    }
    graph.set(file, { local: [...local].sort(), external: [...external].sort() });
  }
  return graph;
}

/** The cycles among `files` (strongly connected components of more than one file, or a self-import). */
export function importCycles(
  graph: Map<string, FileImports>,
  include: (file: string) => boolean,
): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.local ?? []) {
      if (!include(w) || !graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)?.local.includes(v)) cycles.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (include(v) && !index.has(v)) visit(v);
  return cycles.sort((a, b) => (a[0] as string).localeCompare(b[0] as string));
}

export interface LongFunction {
  /** `file:name`, the name being the function's own or, for an anonymous one, where it is passed or assigned. */
  id: string;
  lines: number;
}

function functionName(node: ts.Node, sf: ts.SourceFile): string {
  const named = node as ts.Node & { name?: ts.Node };
  if (named.name !== undefined && (ts.isIdentifier(named.name) || ts.isStringLiteral(named.name)))
    return named.name.text;
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))
    return parent.name.getText(sf);
  if (ts.isCallExpression(parent)) {
    const callee = parent.expression.getText(sf).replace(/\s+/g, '');
    const holder = parent.parent;
    const where =
      ts.isVariableDeclaration(holder) || ts.isPropertyAssignment(holder)
        ? `${holder.name.getText(sf)}=`
        : '';
    return `${where}${callee}(…)`;
  }
  return '(anonymous)';
}

/** Functions (declarations, methods, arrows, function expressions) longer than `max` lines in `file`. */
export function longFunctions(file: string, max: number, root = ROOT): LongFunction[] {
  const text = readFileSync(join(root, file), 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && (node as ts.FunctionLikeDeclaration).body !== undefined) {
      const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const last = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = last - first + 1;
      if (lines > max) out.push({ id: `${file}:${functionName(node, sf)}`, lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Folders drawn as one box each: the floors and their rooms. */
const SPLIT = new Set(['core', 'adapters', 'functions', 'host-agent']);

/** The box a file is drawn in: its top folder, or top/sub for the floors split into rooms. */
export function folderOf(file: string): string {
  const parts = file.split('/');
  const top = parts[0] as string;
  if (parts.length === 1) return '.';
  if (SPLIT.has(top) && parts.length > 2) return `${top}/${parts[1]}`;
  return top;
}

/** Folder → folders it imports, for every non-test file (test/ and types/ are left out of the picture). */
export function folderEdges(graph: Map<string, FileImports>): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  const drawn = (f: string) => !f.startsWith('test/') && !f.startsWith('types/') && f.includes('/');
  for (const [file, { local }] of graph) {
    if (!drawn(file)) continue;
    const from = folderOf(file);
    const to = edges.get(from) ?? new Set<string>();
    edges.set(from, to);
    for (const dep of local) if (drawn(dep) && folderOf(dep) !== from) to.add(folderOf(dep));
  }
  return edges;
}

const nodeId = (folder: string) => folder.replace(/[^A-Za-z0-9]/g, '_');

/** The mermaid picture of the folder graph (deterministic: sorted). */
export function renderMermaid(graph: Map<string, FileImports>): string {
  const edges = folderEdges(graph);
  const folders = [...edges.keys()].sort();
  const lines = ['```mermaid', 'graph BT'];
  for (const f of folders) lines.push(`  ${nodeId(f)}["${f}"]`);
  for (const f of folders)
    for (const to of [...(edges.get(f) ?? [])].sort()) lines.push(`  ${nodeId(f)} --> ${nodeId(to)}`);
  lines.push('```');
  return lines.join('\n');
}

const START = '<!-- import-graph:start (generated by `npm run docs`; do not edit) -->';
const END = '<!-- import-graph:end -->';

/** `doc` with the picture between its markers replaced by the current one. */
export function spliceArchitectureDoc(doc: string, picture: string): string {
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`docs/architecture.md has no ${START} … ${END} markers`);
  return `${doc.slice(0, a + START.length)}\n${picture}\n${doc.slice(b)}`;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const doc = readFileSync(ARCHITECTURE_DOC, 'utf8');
  writeFileSync(ARCHITECTURE_DOC, spliceArchitectureDoc(doc, renderMermaid(importGraph())));
  process.stdout.write(`wrote the import graph in ${ARCHITECTURE_DOC}\n`);
}
