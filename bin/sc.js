#!/usr/bin/env node
// The `sc` command. The CLI is TypeScript run by Node's type stripping (Node ≥ 22.18 / 24);
// on an older Node (the machine's v20) this shim re-executes itself with the project's Node 24.
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const self = realpathSync(fileURLToPath(import.meta.url));
const root = join(dirname(self), '..');

if (process.features.typescript) {
  const { main } = await import('../cli/main.ts');
  process.exitCode = await main(process.argv.slice(2));
} else {
  const node = join(root, 'node_modules', 'node', 'bin', 'node');
  if (process.env.SC_CLI_REEXEC === '1' || !existsSync(node)) {
    process.stderr.write(
      `sc needs Node 24 (it runs TypeScript directly); this is Node ${process.versions.node}. ` +
        'Run `npm install` in the project or put Node 24 on PATH.\n',
    );
    process.exit(2);
  }
  const out = spawnSync(node, [self, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, SC_CLI_REEXEC: '1' },
  });
  if (out.error) {
    process.stderr.write(`sc: could not start ${node}: ${out.error.message}\n`);
    process.exit(2);
  }
  process.exit(out.status ?? 1);
}
