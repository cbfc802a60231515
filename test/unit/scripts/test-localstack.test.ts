import { describe, expect, it } from '@jest/globals';
import { FREE_TAG, plan } from '../../../scripts/test-localstack.ts';

describe('test:localstack plan', () => {
  it('skips, saying so, when there is no Docker engine', () => {
    expect(plan({ dockerError: 'docker: spawn docker ENOENT', tag: undefined, token: 'x' })).toEqual({
      run: false,
      reason: 'no Docker engine (docker: spawn docker ENOENT)',
    });
  });

  it('runs the pinned free tag without a token', () => {
    expect(plan({ dockerError: null, tag: undefined, token: undefined })).toEqual({
      run: true,
      tag: FREE_TAG,
    });
    expect(FREE_TAG).toBe('4.14.0');
  });

  it('skips a newer tag without a token and runs it with one', () => {
    const noToken = plan({ dockerError: null, tag: 'latest', token: '' });
    expect(noToken.run).toBe(false);
    expect(!noToken.run && noToken.reason).toMatch(
      /^no token: LocalStack latest needs LOCALSTACK_AUTH_TOKEN/,
    );
    expect(plan({ dockerError: null, tag: 'latest', token: 'ls-abc' })).toEqual({ run: true, tag: 'latest' });
  });
});
