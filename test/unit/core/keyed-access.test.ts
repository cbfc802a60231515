/**
 * "Names are data, never structure": the policy and the API never index a plain
 * object with a wide `string` (a key that may be a user-supplied name such as
 * `constructor` or `__proto__`) to read it, nor test one with `in`. Keys typed as literal
 * unions (resources, directions) and numeric indexes are fine; name-keyed maps
 * are read through `own()`/`ownEntries()` (core/contracts/keyed.ts) or are `Map`s.
 *
 * The rule is checked on the type of the index expression with the compiler's
 * own checker, so a renamed variable cannot dodge it.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const DIRS = ['core/policy', 'core/contracts', 'functions/api', 'functions/ops', 'functions/scaler'];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Whether `t` may be a wide string (not only string literals or numbers). */
function wideString(t: ts.Type): boolean {
  if (t.isUnion()) return t.types.some(wideString);
  return (t.flags & (ts.TypeFlags.String | ts.TypeFlags.Any | ts.TypeFlags.Unknown)) !== 0;
}

/** Whether indexing `t` is not a plain-object lookup (arrays, tuples, strings, typed arrays). */
function notPlainObject(checker: ts.TypeChecker, t: ts.Type): boolean {
  const n = checker.getNonNullableType(t);
  if (n.isUnion()) return n.types.every((x) => notPlainObject(checker, x));
  return checker.isArrayLikeType(n) || (n.flags & ts.TypeFlags.StringLike) !== 0;
}

/**
 * `obj[name] = value` creates an own property for every name the Name schema lets
 * through (`__proto__` is not one of them, and bodies carrying it are refused), so a
 * plain write is allowed; `delete` removes own properties only. A read, `+=` or `??=` would see inherited members.
 */
function plainWrite(node: ts.ElementAccessExpression): boolean {
  const p = node.parent;
  if (ts.isDeleteExpression(p)) return true;
  return ts.isBinaryExpression(p) && p.left === node && p.operatorToken.kind === ts.SyntaxKind.EqualsToken;
}

function findKeyedAccess(files: string[]): string[] {
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
  });
  const checker = program.getTypeChecker();
  const found: string[] = [];
  for (const file of files) {
    const sf = program.getSourceFile(file);
    if (sf === undefined) continue;
    const where = (n: ts.Node) =>
      `${relative(ROOT, file)}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1}: ${n.getText().slice(0, 80)}`;
    const visit = (node: ts.Node): void => {
      if (ts.isElementAccessExpression(node) && !plainWrite(node)) {
        const key = checker.getTypeAtLocation(node.argumentExpression);
        const obj = checker.getTypeAtLocation(node.expression);
        if (wideString(key) && !notPlainObject(checker, obj)) found.push(where(node));
      } else if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.InKeyword) {
        if (wideString(checker.getTypeAtLocation(node.left))) found.push(where(node));
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return found;
}

describe('keyed access in the policy and the API', () => {
  it('never indexes a plain object with a wide string key (a user name could be "constructor")', () => {
    const files = DIRS.flatMap((d) => sources(join(ROOT, d)));
    expect(files.length).toBeGreaterThan(30);
    expect(findKeyedAccess(files)).toEqual([]);
  }, 60_000);

  it('finds such an index, so the rule above can fail', () => {
    const probe = join(ROOT, 'test/unit/core/keyed-access.probe.ts');
    expect(findKeyedAccess([probe])).toEqual([
      expect.stringContaining('disks[name]'),
      expect.stringContaining('name in disks'),
    ]);
  }, 60_000);
});
