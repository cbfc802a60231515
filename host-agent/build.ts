/**
 * Bundles the host agent into one ESM file for hosts (`npx node host-agent/build.ts [outdir]`,
 * default dist/host-agent): no TypeScript stripping at run time, and a smaller process.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export async function buildAgentBundle(outDir: string): Promise<string> {
  const outfile = join(outDir, 'host-agent.mjs');
  await build({
    entryPoints: [fileURLToPath(new URL('./main.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    legalComments: 'none',
    outfile,
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
