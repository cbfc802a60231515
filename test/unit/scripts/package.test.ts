import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { handlersOf, missingHandlerFiles, ROOT } from '../../../scripts/package.ts';

describe('handlersOf', () => {
  it('reads every function handler of the real serverless.yml', () => {
    expect(handlersOf(readFileSync(join(ROOT, 'serverless.yml'), 'utf8'))).toEqual([
      { fn: 'controlTick', file: 'functions/handlers/control-tick' },
      { fn: 'api', file: 'functions/handlers/api' },
      { fn: 'sanity', file: 'functions/handlers/sanity' },
      { fn: 'snapshoter', file: 'functions/handlers/snapshoter' },
      { fn: 'rebalancer', file: 'functions/handlers/rebalancer' },
    ]);
  });

  it('ignores handler-like lines outside the functions section', () => {
    const yml = 'custom:\n  x:\n    handler: not/a.fn\nfunctions:\n  a:\n    handler: "src/a.main"\n';
    expect(handlersOf(yml)).toEqual([{ fn: 'a', file: 'src/a' }]);
  });
});

describe('missingHandlerFiles', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-handlers-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names the functions whose handler file exists under no bundled extension', () => {
    writeFileSync(
      join(dir, 'serverless.yml'),
      'functions:\n  a:\n    handler: h/a.handler\n  b:\n    handler: h/b.handler\n  c:\n    handler: h/c.handler\n',
    );
    mkdirSync(join(dir, 'h'));
    writeFileSync(join(dir, 'h/a.ts'), '');
    writeFileSync(join(dir, 'h/c.mjs'), '');
    expect(missingHandlerFiles(dir)).toEqual([{ fn: 'b', file: 'h/b' }]);
  });
});
