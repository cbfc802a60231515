import { describe, expect, it } from '@jest/globals';
import { deployPlan, EXIT, PRO_ONLY } from '../../../scripts/localstack-deploy.ts';

describe('deployPlan', () => {
  it('skips with its own exit code when no Docker engine answers, saying why', () => {
    const p = deployPlan({ dockerError: 'docker: spawnSync docker ENOENT', token: 'ls-abc', tag: undefined });
    expect(p).toMatchObject({ action: 'skip', code: 3 });
    expect(p.action === 'skip' && p.reason).toMatch(/no Docker engine \(docker: spawnSync docker ENOENT\)/);
  });

  it('stops before starting anything without a token: the HTTP API needs LocalStack Pro', () => {
    for (const token of [undefined, '']) {
      const p = deployPlan({ dockerError: null, token, tag: undefined });
      expect(p).toMatchObject({ action: 'needs-pro', code: 4 });
      expect(p.action === 'needs-pro' && p.reason).toMatch(
        /HTTP API .*LocalStack Pro.*LOCALSTACK_AUTH_TOKEN/,
      );
    }
  });

  it('deploys on the Pro image with a token, at the pinned tag unless one is given', () => {
    expect(deployPlan({ dockerError: null, token: 'ls-abc', tag: undefined })).toEqual({
      action: 'deploy',
      image: 'localstack/localstack-pro',
      tag: '4.14.0',
    });
    expect(deployPlan({ dockerError: null, token: 'ls-abc', tag: 'latest' })).toMatchObject({
      tag: 'latest',
    });
  });

  it('keeps exit codes distinct and names the HTTP API among the Pro features', () => {
    expect(new Set(Object.values(EXIT)).size).toBe(Object.keys(EXIT).length);
    expect(PRO_ONLY.map((f) => f.feature).join(' ')).toMatch(/HTTP API/);
  });
});
