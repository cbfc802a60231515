/**
 * Network limits with `tc` on the container's host-side veth: a token bucket
 * (tbf) at the root shapes what the host sends into the container.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BITS_PER_MBIT } from '../cgroup/plan.ts';
import { CgroupWriteError, UnsafePathError } from '../errors.ts';

const run = promisify(execFile);

/** The narrow port the applier needs; a fake in unit tests. */
export interface NetShaper {
  /** Current root rate of the device, Mbit/s, or null when unshaped. */
  readMbps(dev: string): Promise<number | null>;
  setMbps(dev: string, mbps: number): Promise<void>;
}

const DEV_PATTERN = /^[A-Za-z0-9_.-]{1,15}$/;

function checkDev(dev: string): void {
  if (!DEV_PATTERN.test(dev)) throw new UnsafePathError(`not a network device name: ${JSON.stringify(dev)}`);
}

/** Burst of the bucket: 20 ms of the rate, at least 64 KiB (one GSO segment must fit). */
export function tbfBurstBytes(mbps: number): number {
  return Math.max(64 * 1024, Math.ceil((mbps * BITS_PER_MBIT) / 8 / 50));
}

export function tcShaper(tcPath = 'tc'): NetShaper {
  return {
    async readMbps(dev) {
      checkDev(dev);
      const { stdout } = await run(tcPath, ['-j', 'qdisc', 'show', 'dev', dev]);
      const qdiscs = JSON.parse(stdout || '[]') as {
        kind: string;
        root?: boolean;
        options?: { rate?: number };
      }[];
      const root = qdiscs.find((q) => q.root === true);
      if (root === undefined || root.kind !== 'tbf' || root.options?.rate === undefined) return null;
      return Math.round((root.options.rate * 8) / BITS_PER_MBIT);
    },
    async setMbps(dev, mbps) {
      checkDev(dev);
      const bits = mbps * BITS_PER_MBIT;
      try {
        await run(tcPath, [
          'qdisc',
          'replace',
          'dev',
          dev,
          'root',
          'tbf',
          'rate',
          `${bits}bit`,
          'burst',
          `${tbfBurstBytes(mbps)}`,
          'latency',
          '100ms',
        ]);
      } catch (err) {
        throw new CgroupWriteError(`tc on ${dev} failed: ${(err as Error).message}`, 'TC_FAILED', {
          cause: err,
          context: { dev },
        });
      }
    },
  };
}
