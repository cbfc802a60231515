/**
 * Bundles the host agent for hosts (`npx node host-agent/build.ts [outdir]`, default
 * dist/host-agent): host-agent.mjs, plus chunks/ holding what is loaded only on demand (the
 * SDK's credential provider chain, for hosts without env credentials). No TypeScript stripping
 * at run time, and a smaller process (see host-agent/README.md, "Memory").
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export async function buildAgentBundle(outDir: string): Promise<string> {
  const outfile = join(outDir, 'host-agent.mjs');
  await build({
    entryPoints: { 'host-agent': fileURLToPath(new URL('./main.ts', import.meta.url)) },
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
    logLevel: 'warning',
  });
  return outfile;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = await buildAgentBundle(process.argv[2] ?? 'dist/host-agent');
  process.stdout.write(`${out}\n`);
}
