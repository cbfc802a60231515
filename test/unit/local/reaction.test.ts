import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import type { Phase } from '../../../local/containers.ts';
import { cgroupFileReader, measureReaction, measureSteps, quotaToShares } from '../../../local/reaction.ts';
import { ManualClock } from '../../support/manual-clock.ts';

/**
 * A fake loop: `reactAfterMs` after the load starts the quota doubles;
 * `reactAfterMs` after it stops the quota returns to the base.
 */
function fakeLoop(clock: ManualClock, opts: { upAfterMs: number; downAfterMs: number | null }) {
  const base = 50_000;
  let changeAt: number | null = null;
  let target = base;
  let quota = base;
  return {
    container: {
      setPhase: async (phase: Phase) => {
        const loaded = phase.kind === 'cpu';
        const after = loaded ? opts.upAfterMs : opts.downAfterMs;
        changeAt = after === null ? null : clock.now() + after;
        target = loaded ? base * 2 : base;
      },
    },
    read: async () => {
      if (changeAt !== null && clock.now() >= changeAt) quota = target;
      return quota;
    },
  };
}

async function drive<T>(clock: ManualClock, p: Promise<T>, stepMs = 100, maxMs = 1_000_000): Promise<T> {
  let done = false;
  let value: T | undefined;
  void p.then((v) => {
    done = true;
    value = v;
  });
  for (let t = 0; t < maxMs && !done; t += stepMs) await clock.advance(stepMs);
  await clock.advance(0);
  return value as T;
}

describe('measureReaction', () => {
  it('times from the trigger to the first poll that sees the change, within one poll interval', async () => {
    const clock = new ManualClock();
    const loop = fakeLoop(clock, { upAfterMs: 7_250, downAfterMs: 0 });
    const r = await drive(
      clock,
      measureReaction({
        trigger: () => loop.container.setPhase({ kind: 'cpu', workers: 1 }),
        read: loop.read,
        reached: (b, n) => b !== null && n !== null && n > b,
        timeoutMs: 60_000,
        pollMs: 100,
        clock,
      }),
    );
    expect(r).toMatchObject({ ok: true, before: 50_000, after: 100_000 });
    if (!r.ok) throw new Error('unreachable');
    expect(r.delayMs).toBeGreaterThanOrEqual(7_250);
    expect(r.delayMs).toBeLessThanOrEqual(7_350); // 7.25 s + at most one 100 ms poll
  });

  it('gives up at the timeout and says so', async () => {
    const clock = new ManualClock();
    const loop = fakeLoop(clock, { upAfterMs: 90_000, downAfterMs: 0 });
    const r = await drive(
      clock,
      measureReaction({
        trigger: () => loop.container.setPhase({ kind: 'cpu', workers: 1 }),
        read: loop.read,
        reached: (b, n) => n !== null && b !== null && n > b,
        timeoutMs: 5_000,
        pollMs: 500,
        clock,
      }),
      500,
    );
    expect(r).toMatchObject({ ok: false, reason: 'timeout', last: 50_000 });
  });
});

describe('measureSteps', () => {
  it('records a scale-up and a scale-down delay per step and leaves the container idle', async () => {
    const clock = new ManualClock();
    const loop = fakeLoop(clock, { upAfterMs: 4_000, downAfterMs: 12_000 });
    const phases: string[] = [];
    const container = {
      setPhase: async (p: Phase) => {
        phases.push(p.kind);
        await loop.container.setPhase(p);
      },
    };
    const r = await drive(
      clock,
      measureSteps({ container, read: loop.read, steps: 3, timeoutMs: 60_000, pollMs: 100, clock }),
    );
    expect(r.upMs).toHaveLength(3);
    expect(r.downMs).toHaveLength(3);
    for (const d of r.upMs) expect(d).toBeGreaterThanOrEqual(4_000);
    for (const d of r.upMs) expect(d).toBeLessThanOrEqual(4_100);
    for (const d of r.downMs) expect(d).toBeGreaterThanOrEqual(12_000);
    expect(r.failures).toEqual([]);
    expect(phases.at(-1)).toBe('idle');
  });

  it('starts each load after the settle pause plus a jitter, so steps meet every phase of the tick', async () => {
    const clock = new ManualClock();
    const loop = fakeLoop(clock, { upAfterMs: 1_000, downAfterMs: 2_000 });
    const randoms = [0.5, 0.25, 0];
    const start = clock.now();
    const loadsAt: number[] = [];
    const downSeenAt: number[] = [];
    const container = {
      setPhase: async (p: Phase) => {
        if (p.kind === 'cpu') loadsAt.push(clock.now());
        await loop.container.setPhase(p);
      },
    };
    await drive(
      clock,
      measureSteps({
        container,
        read: loop.read,
        steps: 3,
        timeoutMs: 60_000,
        pollMs: 100,
        settleMs: 1_000,
        jitterMs: 4_000,
        random: () => randoms.shift() ?? 0,
        clock,
        onResult: (_step, direction) => {
          if (direction === 'down') downSeenAt.push(clock.now());
        },
      }),
    );
    expect((loadsAt[0] as number) - start).toBe(2_000); // 0.5 × 4 s before the first step
    expect((loadsAt[1] as number) - (downSeenAt[0] as number)).toBe(2_000); // settle 1 s + 0.25 × 4 s
    expect((loadsAt[2] as number) - (downSeenAt[1] as number)).toBe(1_000); // settle 1 s + 0 × 4 s
  });

  it('counts a limit that never falls as a scale-down failure', async () => {
    const clock = new ManualClock();
    const loop = fakeLoop(clock, { upAfterMs: 1_000, downAfterMs: null });
    const r = await drive(
      clock,
      measureSteps({
        container: loop.container,
        read: loop.read,
        steps: 1,
        timeoutMs: 3_000,
        pollMs: 100,
        clock,
      }),
    );
    expect(r.upMs).toHaveLength(1);
    expect(r.downMs).toEqual([]);
    expect(r.failures).toEqual([{ step: 0, direction: 'down', reason: 'timeout' }]);
  });
});

describe('cgroup readers', () => {
  it('reads a numeric cgroup file and null when it is gone', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sc-react-'));
    mkdirSync(join(root, 'cpu', 'lxc.payload.x'), { recursive: true });
    writeFileSync(join(root, 'cpu', 'lxc.payload.x', 'cpu.cfs_quota_us'), '150000\n');
    expect(await cgroupFileReader(root, 'lxc.payload.x', 'cpu', 'cpu.cfs_quota_us')()).toBe(150_000);
    expect(await cgroupFileReader(root, 'lxc.payload.y', 'cpu', 'cpu.cfs_quota_us')()).toBeNull();
  });

  it('turns a quota into shares', () => {
    expect(quotaToShares(150_000)).toBe(150); // 150 ms per 100 ms period = 1.5 cores
    expect(quotaToShares(-1)).toBe(Number.POSITIVE_INFINITY);
    expect(quotaToShares(null)).toBeNull();
  });
});
