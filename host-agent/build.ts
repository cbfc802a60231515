/**
 * Bundles the host agent for hosts (`npx node host-agent/build.ts [outdir]`, default
 * dist/host-agent): host-agent.mjs and oom-watchdog.mjs, plus chunks/ holding what is loaded only on demand (the
 * SDK's credential provider chain, for hosts without env credentials). No TypeScript stripping
 * at run time, and a smaller process (see host-agent/README.md, "Memory").
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

/**
 * zod re-exports its ~40 locales as `z.locales`, which a namespace import keeps in the bundle
 * (≈ 250 kB of code parsed and run at start); the agent's messages are English only (zod's
 * default, imported directly by zod), so only `en` stays reachable.
 */
const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes('/node_modules/zod/')
        ? { path: join(args.resolveDir, '../locales/en.js'), namespace: 'zod-locales' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      loader: 'js',
      resolveDir: args.path.slice(0, args.path.lastIndexOf('/')),
    }));
  },
};

export async function buildAgentBundle(outDir: string): Promise<string> {
  const outfile = join(outDir, 'host-agent.mjs');
  await build({
    entryPoints: {
      'host-agent': fileURLToPath(new URL('./main.ts', import.meta.url)),
      // the OOM guard's fallback, run by its own unit (sc-oom-watchdog.service)
      'oom-watchdog': fileURLToPath(new URL('./oom-watchdog.ts', import.meta.url)),
    },
    bundle: true,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    legalComments: 'none',
    outdir: outDir,
    // the AWS SDK's CommonJS parts call require()
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    plugins: [zodEnglishOnly],
    logLevel: 'warning',
  });
  return outfile;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = await buildAgentBundle(process.argv[2] ?? 'dist/host-agent');
  process.stdout.write(`${out}\n`);
}
