import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { ROOT } from '../../../scripts/package.ts';

const run = promisify(execFile);

describe('npm run test:localstack', () => {
  it('exits 0 with a clear skip message when no docker command exists', async () => {
    // A PATH holding only node: whatever this machine has, `docker` cannot be found.
    const bin = mkdtempSync(join(tmpdir(), 'sc-nodocker-'));
    symlinkSync(process.execPath, join(bin, 'node'));
    try {
      const { stdout } = await run(join(bin, 'node'), ['scripts/test-localstack.ts'], {
        cwd: ROOT,
        env: { PATH: bin, HOME: process.env.HOME ?? '/root' },
      });
      expect(stdout).toMatch(
        /^test:localstack skipped: no Docker engine \(docker: spawnSync docker ENOENT\)$/m,
      );
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
