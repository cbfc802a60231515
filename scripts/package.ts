/**
 * `npm run package [-- --out <dir>] [--stage <stage>] [--param name=value …]`: bundle every function with esbuild and write the
 * CloudFormation template (`<dir>/cloudformation-template-update-stack.json`, default
 * `.serverless/`) with osls, offline and without an AWS account. Refuses, naming them,
 * when handler files referenced by serverless.yml do not exist. Stage parameters (serverless.yml
 * `params:`) pass through as `--param`; `metricsUrl` has no default, so it must be given.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const TEMPLATE_FILE = 'cloudformation-template-update-stack.json';
const HANDLER_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];

/** `handler: path/to/file.export` lines of serverless.yml, as { function name, file stem }. */
export function handlersOf(serverlessYml: string): { fn: string; file: string }[] {
  const out: { fn: string; file: string }[] = [];
  let fn: string | null = null;
  let inFunctions = false;
  for (const line of serverlessYml.split('\n')) {
    if (/^\S/.test(line)) inFunctions = line.startsWith('functions:');
    if (!inFunctions) continue;
    const name = /^ {2}([A-Za-z0-9_-]+):\s*$/.exec(line);
    if (name !== null) fn = name[1] ?? null;
    const handler = /^ {4}handler:\s*['"]?([^'"\s#]+)['"]?/.exec(line);
    if (handler?.[1] !== undefined && fn !== null) {
      const ref = handler[1];
      out.push({ fn, file: ref.slice(0, ref.lastIndexOf('.')) });
    }
  }
  return out;
}

/** Handler files (without extension) that exist under none of the extensions esbuild resolves. */
export function missingHandlerFiles(root: string): { fn: string; file: string }[] {
  const handlers = handlersOf(readFileSync(join(root, 'serverless.yml'), 'utf8'));
  return handlers.filter(({ file }) => !HANDLER_EXTENSIONS.some((ext) => existsSync(join(root, file + ext))));
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: '.serverless' },
      stage: { type: 'string' },
      param: { type: 'string', multiple: true, default: [] },
    },
    strict: true,
  });
  const missing = missingHandlerFiles(ROOT);
  if (missing.length > 0) {
    process.stderr.write(
      `package: serverless.yml references handler files that do not exist:\n${missing
        .map(({ fn, file }) => `  ${fn}: ${file}{${HANDLER_EXTENSIONS.join(',')}}\n`)
        .join('')}Write (or merge) those handlers first; nothing was packaged.\n`,
    );
    return 1;
  }
  const out = resolve(ROOT, values.out);
  const started = performance.now();
  const args = [
    'package',
    '--package',
    out,
    ...(values.stage === undefined ? [] : ['--stage', values.stage]),
  ];
  for (const p of values.param) args.push(`--param=${p}`);
  const child = spawn(join(ROOT, 'node_modules/.bin/osls'), args, {
    cwd: ROOT,
    stdio: 'inherit',
    // Offline: no telemetry, no update checks; region from the environment or the default.
    env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' },
  });
  const code = await new Promise<number>((done) =>
    child.on('exit', (c, signal) => done(c ?? (signal ? 1 : 0))),
  );
  if (code === 0) {
    process.stdout.write(
      `package: ${join(out, TEMPLATE_FILE)} (${Math.round(performance.now() - started)} ms)\n`,
    );
  }
  return code;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
