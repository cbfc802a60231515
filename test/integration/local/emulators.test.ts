/**
 * Emulators started on free ports survive a port taken between the pick and the bind (another
 * process on the machine got it first): the start is retried on fresh ports, and only then.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { freePort, LOOPBACK, onFreePorts, startVictoriaMetrics } from '../../../local/emulators.ts';

describe('emulator ports', () => {
  it('VictoriaMetrics on a port already bound fails with the message the retry looks for', async () => {
    const squatter = createServer();
    squatter.listen(0, LOOPBACK);
    await once(squatter, 'listening');
    const port = (squatter.address() as { port: number }).port;
    try {
      await expect(startVictoriaMetrics({ port, opentsdbPort: await freePort() })).rejects.toThrow(
        /address already in use/,
      );
    } finally {
      squatter.close();
    }
  }, 30_000);

  it('retries a start whose picked port was taken, on fresh ports, and nothing else', async () => {
    let calls = 0;
    const flaky = async () => {
      calls += 1;
      if (calls === 1) throw new Error('listen tcp4 127.0.0.1:40123: bind: address already in use');
      return 'up';
    };
    expect(await onFreePorts(flaky, { portsGiven: false })).toBe('up');
    expect(calls).toBe(2);
    // ports the caller chose are not changed behind its back
    calls = 0;
    await expect(onFreePorts(flaky, { portsGiven: true })).rejects.toThrow(/address already in use/);
    expect(calls).toBe(1);
    // any other failure is not a port race
    let other = 0;
    await expect(
      onFreePorts(
        async () => {
          other += 1;
          throw new Error('VictoriaMetrics is not installed');
        },
        { portsGiven: false },
      ),
    ).rejects.toThrow(/not installed/);
    expect(other).toBe(1);
    // a port taken on every try gives up after the attempts
    let always = 0;
    await expect(
      onFreePorts(
        async () => {
          always += 1;
          throw new Error('java.net.BindException: Address already in use');
        },
        { portsGiven: false, attempts: 3 },
      ),
    ).rejects.toThrow(/BindException/);
    expect(always).toBe(3);
  });
});
