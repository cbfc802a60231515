import { describe, expect, it } from '@jest/globals';
import { loadAgentConfig } from '../../../host-agent/config.ts';

describe('host agent config', () => {
  it('applies the defaults and freezes the result', () => {
    const c = loadAgentConfig({ SC_AGENT_HOST: 'node1' });
    expect(c).toMatchObject({
      host: 'node1',
      cgroupRoot: '/sys/fs/cgroup',
      visibilityTimeoutS: 3,
      publishUrl: null,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('treats empty variables as missing', () => {
    expect(loadAgentConfig({ SC_AGENT_HOST: 'node1', SC_AGENT_PUBLISH_URL: '' }).publishUrl).toBeNull();
  });

  it('refuses an unknown SC_AGENT_ variable, naming it', () => {
    expect(() => loadAgentConfig({ SC_AGENT_HOST: 'n', SC_AGENT_TYPO: '1' })).toThrow('SC_AGENT_TYPO');
  });

  it('refuses a visibility timeout not longer than the heartbeat', () => {
    expect(() =>
      loadAgentConfig({
        SC_AGENT_HOST: 'n',
        SC_AGENT_VISIBILITY_TIMEOUT_S: '10',
        SC_AGENT_VISIBILITY_HEARTBEAT_S: '10',
      }),
    ).toThrow('SC_AGENT_VISIBILITY_TIMEOUT_S');
  });

  it('refuses a host name that could escape a path, and a relative cgroup root', () => {
    expect(() => loadAgentConfig({ SC_AGENT_HOST: '../x' })).toThrow('SC_AGENT_HOST');
    expect(() => loadAgentConfig({ SC_AGENT_HOST: 'n', SC_AGENT_CGROUP_ROOT: 'tmp/cg' })).toThrow(
      'SC_AGENT_CGROUP_ROOT',
    );
  });

  it('takes a sub-second publisher period (BDWatchdog flushes every 0.2 s) and refuses a faster one', () => {
    expect(loadAgentConfig({ SC_AGENT_HOST: 'n', SC_AGENT_PUBLISH_S: '0.2' }).publishMs).toBe(200);
    expect(loadAgentConfig({ SC_AGENT_HOST: 'n' }).publishMs).toBe(5000);
    expect(() => loadAgentConfig({ SC_AGENT_HOST: 'n', SC_AGENT_PUBLISH_S: '0.1' })).toThrow(
      'SC_AGENT_PUBLISH_S',
    );
  });

  it('requires the host', () => {
    expect(() => loadAgentConfig({})).toThrow('SC_AGENT_HOST');
  });
});
