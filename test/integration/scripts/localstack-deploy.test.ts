import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ROOT } from '../../../scripts/package.ts';

describe('npm run deploy:localstack', () => {
  it('without Docker: says so, lists the Pro features, deploys nothing and exits 3', () => {
    // A PATH holding only node: whatever this machine has, `docker` cannot be found.
    const bin = mkdtempSync(join(tmpdir(), 'sc-nodocker-'));
    symlinkSync(process.execPath, join(bin, 'node'));
    try {
      const r = spawnSync(join(bin, 'node'), ['scripts/localstack-deploy.ts'], {
        cwd: ROOT,
        env: { PATH: bin, HOME: process.env.HOME ?? '/root', LOCALSTACK_AUTH_TOKEN: 'ls-test' },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/HTTP API \(API Gateway v2.*\): without Pro, the stack fails to create/);
      expect(r.stdout).toMatch(
        /^deploy:localstack skipped: no Docker engine \(docker: spawnSync docker ENOENT\): LocalStack runs each Lambda function in a Docker container/m,
      );
      expect(r.status).toBe(3);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('runs LocalStack with the Docker socket and LAMBDA_IGNORE_ARCHITECTURE (the compose file)', () => {
    const compose = readFileSync(join(ROOT, 'localstack/docker-compose.yml'), 'utf8');
    expect(compose).toMatch(/- "\$\{DOCKER_SOCKET:-\/var\/run\/docker\.sock\}:\/var\/run\/docker\.sock"/);
    expect(compose).toMatch(/LAMBDA_IGNORE_ARCHITECTURE: "1"/);
    expect(compose).toMatch(/image: \$\{LOCALSTACK_IMAGE:-localstack\/localstack\}:/);
  });
});
