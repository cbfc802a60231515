// osls plugin: `osls invoke local -f <function>` on the ESM bundles. osls loads a Node handler with
// require() (trying `<file>` and `<file>.cjs`), which cannot find serverless-esbuild's `<file>.mjs`;
// after serverless-esbuild has bundled (same hook, listed after it), this writes a CommonJS
// `<file>.cjs` beside the bundle that imports it and calls its export. Nothing of it is deployed.
'use strict';
const { writeFileSync } = require('node:fs');
const path = require('node:path');

class InvokeLocalEsm {
  constructor(serverless, options) {
    this.serverless = serverless;
    this.options = options;
    this.hooks = { 'before:invoke:local:invoke': () => this.writeShim() };
  }

  writeShim() {
    const fn = this.serverless.service.getFunction(this.options.function);
    const handler = String(fn.handler);
    const dot = handler.lastIndexOf('.');
    const file = handler.slice(0, dot);
    const name = handler.slice(dot + 1);
    const dir = this.serverless.serviceDir;
    const base = path.basename(file);
    const shim = [
      '// Written by scripts/osls-invoke-local.cjs for `osls invoke local` (the bundle is ESM).',
      "'use strict';",
      `exports[${JSON.stringify(name)}] = async (event, context) =>`,
      `  (await import(${JSON.stringify(`./${base}.mjs`)}))[${JSON.stringify(name)}](event, context);`,
      '',
    ].join('\n');
    writeFileSync(path.join(dir, `${file}.cjs`), shim);
  }
}

module.exports = InvokeLocalEsm;
