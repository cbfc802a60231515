import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from '@jest/globals';
import {
  CGROUP_V1_ROOT,
  createLxcWorkload,
  createPlainCgroupWorkload,
  detectHostSupport,
  LXC_PATH,
  type WorkloadContainer,
} from '../../../local/containers.ts';

const support = await detectHostSupport();
const kinds = [
  ['plain-cgroup', createPlainCgroupWorkload] as const,
  ...(support.mode === 'lxc' ? [['lxc', createLxcWorkload] as const] : []),
];

function cpuSecondsOver(c: WorkloadContainer, ms: number): Promise<number> {
  const file = `${CGROUP_V1_ROOT}/cpuacct/${c.cgroupPath}/cpuacct.usage`;
  const before = Number(readFileSync(file, 'utf8'));
  return sleep(ms).then(() => (Number(readFileSync(file, 'utf8')) - before) / 1e9);
}
function memMiB(c: WorkloadContainer): number {
  return (
    Number(readFileSync(`${CGROUP_V1_ROOT}/memory/${c.cgroupPath}/memory.usage_in_bytes`, 'utf8')) / 2 ** 20
  );
}

describe('host support', () => {
  it('finds root and writable cgroup v1 here', () => {
    expect(support.mode).not.toBe('dry-run');
  });
});

describe.each(kinds)('%s demo container', (kind, create) => {
  let c: WorkloadContainer | null = null;
  afterEach(async () => {
    await c?.remove();
  });

  it('shows its phases in its cgroup cpuacct and memory usage, and leaves nothing behind', async () => {
    const name = `sc-host-${kind}-${process.pid}`;
    c = await create(name);
    expect(c.kind).toBe(kind);
    const cgroupDirs = ['cpu', 'cpuacct', 'memory'].map((k) => `${CGROUP_V1_ROOT}/${k}/${c?.cgroupPath}`);
    for (const d of cgroupDirs) expect(existsSync(d)).toBe(true);

    const idleCpu = await cpuSecondsOver(c, 1000);
    const idleMem = memMiB(c);
    expect(idleCpu).toBeLessThan(0.1);

    await c.setPhase({ kind: 'cpu', workers: 1 });
    await sleep(400);
    const burstCpu = await cpuSecondsOver(c, 1000);
    // One busy loop on a shared 2-core machine: well above idle even when other work competes.
    expect(burstCpu).toBeGreaterThan(Math.max(0.08, 4 * idleCpu));

    await c.setPhase({ kind: 'mem', totalMiB: 48, stepMiBPerSecond: 48 });
    await sleep(1500);
    expect(memMiB(c)).toBeGreaterThan(idleMem + 40); // 48 MiB held, resident
    expect(await cpuSecondsOver(c, 1000)).toBeLessThan(0.1); // the burner stopped

    await c.setPhase({ kind: 'idle' });
    await sleep(600);
    expect(memMiB(c)).toBeLessThan(idleMem + 8);

    await c.remove();
    for (const d of cgroupDirs) expect(existsSync(d)).toBe(false);
    if (kind === 'lxc') {
      expect(existsSync(`${LXC_PATH}/${name}`)).toBe(false);
      expect(existsSync(`${CGROUP_V1_ROOT}/cpu/lxc.monitor.${name}`)).toBe(false);
    }
    c = null;
  }, 60_000);

  it('removes what it made when asked twice', async () => {
    c = await create(`sc-host2-${kind}-${process.pid}`);
    await c.remove();
    await c.remove();
    expect(existsSync(`${CGROUP_V1_ROOT}/memory/${c.cgroupPath}`)).toBe(false);
    c = null;
  }, 60_000);
});

describe('lxc demo container', () => {
  it('refuses a name that exists and touches nothing of it', async () => {
    if (support.mode !== 'lxc') return;
    const first = await createLxcWorkload(`sc-dup-${process.pid}`);
    try {
      await expect(createLxcWorkload(first.name)).rejects.toThrow(/already exists/);
      expect(existsSync(`${CGROUP_V1_ROOT}/cpu/${first.cgroupPath}`)).toBe(true);
    } finally {
      await first.remove();
    }
  }, 60_000);
});
