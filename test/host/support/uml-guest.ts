/**
 * Runs INSIDE the user-mode-linux cgroup v2 host (test/host/support/uml.ts boots it), as root:
 * the real host agent against the real kernel. The emulators (dynalite + fauxqs) run in this
 * process on the guest's own loopback — UML has its own network stack and is not wired to the
 * host's, so the whole agent (queue consumer, reports, reconcile, heartbeat, memory fast path)
 * runs in here with them instead of being cut down to its cgroup driver.
 *
 *   node uml-guest.ts WORKDIR     (WORKDIR/guest.json says which containers to start)
 *
 * Every step writes what the kernel showed to WORKDIR/results.json as soon as it ends (a step
 * that throws records its error; the others still run), so the host-side test asserts on
 * values read here from the kernel, not on this program's opinion of them.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { systemClock } from '../../../adapters/clock.ts';
import { silentLogger } from '../../../adapters/logger.ts';
import type { HostState } from '../../../core/contracts/host.ts';
import { keys } from '../../../core/contracts/table-layout.ts';
import { HostAgent } from '../../../host-agent/agent.ts';
import { LiteTable } from '../../../host-agent/aws/dynamo.ts';
import { LiteSqs } from '../../../host-agent/aws/sqs.ts';
import { applyPlan, hasCpuset } from '../../../host-agent/cgroup/apply.ts';
import { plan as planWrites } from '../../../host-agent/cgroup/plan.ts';
import { loadAgentConfig } from '../../../host-agent/config.ts';
import { tcShaper } from '../../../host-agent/net/tc.ts';
import { DynamoAgentState } from '../../../host-agent/state.ts';
import { createPlainCgroupWorkload, detectHostSupport, readDemoLimits } from '../../../local/containers.ts';
import { aHostState } from '../../support/agent-fakes.ts';
import { type Harness, startHarness } from './agent-harness.ts';

const run = promisify(execFile);
const CG = '/sys/fs/cgroup';
const MiB = 1_048_576;

export interface GuestPlan {
  lxcPath: string;
  dataDir: string;
  disk: string;
  host: string;
  containers: { orders: string; fast: string };
}

const work = process.argv[2];
if (work === undefined) throw new Error('usage: uml-guest.ts WORKDIR');
const plan = JSON.parse(readFileSync(join(work, 'guest.json'), 'utf8')) as GuestPlan;
const results: Record<string, unknown> = {};
const t0 = Date.now();

function save(): void {
  const tmp = join(work as string, 'results.json.tmp');
  writeFileSync(tmp, JSON.stringify(results, null, 2));
  renameSync(tmp, join(work as string, 'results.json'));
}

async function step(name: string, fn: () => Promise<Record<string, unknown>>): Promise<void> {
  const started = Date.now();
  process.stdout.write(`[guest ${((started - t0) / 1000).toFixed(1)}s] ${name}\n`);
  try {
    results[name] = { ok: true, ...(await fn()), seconds: (Date.now() - started) / 1000 };
  } catch (err) {
    results[name] = { ok: false, error: (err as Error).stack ?? String(err) };
    process.stdout.write(`[guest] ${name} failed: ${(err as Error).message}\n`);
  }
  save();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cgDir = (name: string) => `${CG}/lxc.payload.${name}`;
const read = (path: string) => readFileSync(path, 'utf8').trim();
const readCg = (name: string, file: string) => read(`${cgDir(name)}/${file}`);
function kv(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k !== undefined && v !== undefined) out[k] = Number(v);
  }
  return out;
}

/** A raw write as the kernel answers it: 'ok' or the errno code. */
function tryWrite(path: string, value: string): string {
  try {
    writeFileSync(path, value);
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

const children = new Set<ChildProcess>();
/** A process started inside the cgroup `dir` (it joins before exec, so all it allocates is charged there). */
function spawnIn(dir: string, cmd: string): ChildProcess {
  const child = spawn('/bin/sh', ['-c', `echo $$ > ${dir}/cgroup.procs && exec ${cmd}`], {
    stdio: 'ignore',
    detached: true,
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
function killAll(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // gone
  }
}
const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((r) => child.once('exit', () => r()));

async function waitFor(what: string, ms: number, fn: () => boolean): Promise<number> {
  const start = Date.now();
  while (!fn()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
  return Date.now() - start;
}

/** CPU the cgroup used over `ms` of wall time, in cores, from cpu.stat usage_usec; and throttling. */
async function measureCores(dir: string, ms: number) {
  const a = kv(read(`${dir}/cpu.stat`));
  const w0 = process.hrtime.bigint();
  await sleep(ms);
  const b = kv(read(`${dir}/cpu.stat`));
  const wallUs = Number(process.hrtime.bigint() - w0) / 1000;
  return {
    cores: ((b.usage_usec ?? 0) - (a.usage_usec ?? 0)) / wallUs,
    periods: (b.nr_periods ?? 0) - (a.nr_periods ?? 0),
    throttled: (b.nr_throttled ?? 0) - (a.nr_throttled ?? 0),
  };
}

/** A process holding `mib` MiB of touched anonymous memory (stress-ng, one vm worker, then waits); memory.current reads ≈ 0.97 × mib. */
const HOLD = (mib: number) => `stress-ng --vm 1 --vm-bytes ${mib}M --vm-hang 0 --vm-method zero-one --quiet`;

// ---------------------------------------------------------------------------------------------

const { orders: ORD, fast: FAST } = plan.containers;
const TEST_NAME_PREFIX = plan.host.split('-')[0] ?? 'scv';
let h = undefined as unknown as Harness;
let harnessUp = false;
let agent: HostAgent;
let agentClients: { destroy(): void }[] = [];
let version = 10;

function newAgent(): HostAgent {
  const table = new LiteTable(h.tableName, {
    endpoint: h.dynamoEndpoint,
    region: 'us-east-1',
    requestTimeoutMs: 10_000,
  });
  const sqs = new LiteSqs({ endpoint: h.sqsEndpoint, region: 'us-east-1', requestTimeoutMs: 20_000 });
  agentClients = [table, sqs];
  return new HostAgent({
    config: loadAgentConfig({
      SC_AGENT_HOST: plan.host,
      SC_TABLE: h.tableName,
      SC_AGENT_LXC_PATH: plan.lxcPath,
      SC_AGENT_WAIT_TIME_S: '1',
      SC_AGENT_VISIBILITY_TIMEOUT_S: '10',
      SC_AGENT_VISIBILITY_HEARTBEAT_S: '3',
      SC_AGENT_RECONCILE_S: '3600',
      SC_AGENT_MEM_WATCH_MS: '100',
    }),
    sqs,
    store: new DynamoAgentState(table, plan.host),
    shaper: tcShaper(),
    clock: systemClock,
    log: silentLogger,
  });
}

async function stopAgent(): Promise<void> {
  await agent.stop();
  for (const c of agentClients) c.destroy();
}

async function order(limits: Parameters<Harness['send']>[2], container = ORD) {
  version++;
  await h.send(container, version, limits);
  const report = await h.waitApplied(container, version, 30_000);
  return { version, outcome: report.outcome, issues: report.issues, limits: report.limits };
}

const memFiles = (name: string) => ({
  max: readCg(name, 'memory.max'),
  high: readCg(name, 'memory.high'),
  current: Number(readCg(name, 'memory.current')),
  events: kv(readCg(name, 'memory.events')),
});

await step('kernel', async () => ({
  release: read('/proc/sys/kernel/osrelease'),
  rootControllers: read(`${CG}/cgroup.controllers`),
  subtreeControl: read(`${CG}/cgroup.subtree_control`),
  partitions: read('/proc/partitions'),
  cpusOnline: read('/sys/devices/system/cpu/online'),
  memTotalKiB: kv(read('/proc/meminfo').replaceAll(':', '').replaceAll(' kB', '')).MemTotal,
}));

await step('containers', async () => {
  mkdirSync(plan.dataDir, { recursive: true });
  await run('mount', [plan.disk, plan.dataDir]);
  const started = Date.now();
  for (const name of [ORD, FAST]) {
    await run('lxc-start', ['-P', plan.lxcPath, '-n', name], { timeout: 60_000 });
    await run('lxc-wait', ['-P', plan.lxcPath, '-n', name, '-s', 'RUNNING', '-t', '30'], { timeout: 40_000 });
  }
  const out: Record<string, unknown> = { startSeconds: (Date.now() - started) / 1000 };
  for (const name of [ORD, FAST])
    out[name] = {
      cgroupDir: existsSync(cgDir(name)),
      procs: readCg(name, 'cgroup.procs').split('\n').length,
      files: readCg(name, 'cgroup.controllers'),
      hasCpusetCpus: existsSync(`${cgDir(name)}/cpuset.cpus`),
      dataDevice: read(`/proc/self/mountinfo`)
        .split('\n')
        .find((l) => l.includes(` ${plan.dataDir} `))
        ?.split(' ')[2],
    };
  return out;
});

await step('agentStart', async () => {
  h = await startHarness(plan.host, { maxReceiveCount: 3, visibilityTimeoutS: 10 });
  harnessUp = true;
  await h.putHost(
    aHostState(
      plan.host,
      {
        [ORD]: { cpu: 100, mem: 256, memMax: 512 },
        [FAST]: { cpu: 100, mem: 64, memMax: 512 },
      },
      600,
    ),
  );
  agent = newAgent();
  const started = Date.now();
  await agent.start();
  const [a, b] = await Promise.all([h.waitApplied(ORD, 1, 30_000), h.waitApplied(FAST, 1, 30_000)]);
  return {
    startToReportedSeconds: (Date.now() - started) / 1000,
    cgroupVersion: agent.discovery.version,
    reports: { [ORD]: a, [FAST]: b },
    kernel: {
      cpuMax: readCg(ORD, 'cpu.max'),
      ...memFiles(ORD),
    },
  };
});

await step('discovery', async () => {
  const found = await agent.discovery.scan();
  const heartbeat = await h.table.get(keys.agent(plan.host));
  return {
    found: Object.fromEntries(
      [...found].map(([name, d]) => [name, { dirs: d.cg.dirs, diskDevice: d.diskDevice, pid: d.pid }]),
    ),
    heartbeatContainers: heartbeat?.containers ?? null,
    heartbeatCgroupVersion: heartbeat?.cgroupVersion ?? null,
    heartbeatTopology: heartbeat?.topology ?? null,
  };
});

await step('cpu', async () => {
  const out: Record<string, unknown> = {};
  const burners = [
    spawnIn(cgDir(ORD), "sh -c 'while :; do :; done'"),
    spawnIn(cgDir(ORD), "sh -c 'while :; do :; done'"),
  ];
  try {
    await sleep(300);
    for (const shares of [25, 50, 75, 100]) {
      const r = await order({ cpuShares: shares });
      await sleep(300); // one 100 ms period takes the new quota; leave three
      const m = await measureCores(cgDir(ORD), 2500);
      out[`at${shares}`] = { ...r, cpuMax: readCg(ORD, 'cpu.max'), ...m };
    }
  } finally {
    for (const b of burners) killAll(b);
  }
  return out;
});

await step('memory', async () => {
  const out: Record<string, unknown> = {};
  out.up = { ...(await order({ memMiB: 300 })), kernel: memFiles(ORD) };
  const holder = spawnIn(cgDir(ORD), HOLD(60));
  try {
    out.fillMs = await waitFor(
      'the 60 MiB held',
      60_000,
      () => Number(readCg(ORD, 'memory.current')) >= 54 * MiB,
    );
    await sleep(200);
    const before = memFiles(ORD);
    out.belowUse = { ...(await order({ memMiB: 40 })), before, kernel: memFiles(ORD) };
    await sleep(500);
    out.holderAliveAfterBelowUse = holder.exitCode === null && holder.signalCode === null;
    out.down = { ...(await order({ memMiB: 100 })), kernel: memFiles(ORD) };
    out.upAgain = { ...(await order({ memMiB: 260 })), kernel: memFiles(ORD) };
    out.holderAliveAtEnd = holder.exitCode === null && holder.signalCode === null;
  } finally {
    killAll(holder);
    await exited(holder);
  }
  return out;
});

await step('io', async () => {
  const r = await order({ diskReadMiBps: 20, diskWriteMiBps: 4 });
  const ioMax = readCg(ORD, 'io.max');
  const file = `${plan.dataDir}/io-probe`;
  const ddOut = join(work, 'dd.txt');
  const dd = spawnIn(cgDir(ORD), `sh -c 'dd if=/dev/zero of=${file} bs=1M count=8 oflag=direct 2> ${ddOut}'`);
  await exited(dd);
  const dr = spawnIn(cgDir(ORD), `sh -c 'dd if=${file} of=/dev/null bs=1M iflag=direct 2>> ${ddOut}'`);
  await exited(dr);
  const ddText = existsSync(ddOut) ? read(ddOut) : '';
  // dd's own timing of the 8 MiB, without the process start-up around it
  const [writeS, readS] = [...ddText.matchAll(/copied, ([\d.]+) s/g)].map((m) => Number(m[1]));
  return {
    ...r,
    ioMax,
    writeMiBps: writeS === undefined ? null : 8 / writeS,
    readMiBps: readS === undefined ? null : 8 / readS,
    dd: ddText,
    ioStat: readCg(ORD, 'io.stat'),
    pidsMax: readCg(ORD, 'pids.max'),
  };
});

await step('fastPath', async () => {
  const before = memFiles(FAST);
  // 64 MiB limit, 90 MiB wanted: the kernel stops it at the limit; the agent must raise it.
  const hog = spawnIn(cgDir(FAST), HOLD(90));
  let waitedMs = -1;
  let after: ReturnType<typeof memFiles>;
  try {
    waitedMs = await waitFor('the fast path to raise memory.max and the allocation to finish', 60_000, () => {
      const m = readCg(FAST, 'memory.max');
      return m !== 'max' && Number(m) > 64 * MiB && Number(readCg(FAST, 'memory.current')) >= 81 * MiB;
    });
    after = memFiles(FAST);
  } catch (err) {
    return {
      error: (err as Error).message,
      before,
      after: memFiles(FAST),
      stat: kv(readCg(FAST, 'memory.stat')),
      tasks: taskStates(FAST),
      raises: await settled(),
    };
  } finally {
    killAll(hog);
    await exited(hog);
  }
  const report = await h.applied(FAST);
  return { before, after, waitedMs, raises: await settled(), report };
});

/** State and wait channel of each task in the container's cgroup (where a stalled task sleeps). */
function taskStates(name: string): string[] {
  return readCg(name, 'cgroup.procs')
    .split('\n')
    .filter((p) => p !== '')
    .map((p) => {
      try {
        const stat = read(`/proc/${p}/stat`);
        return `${p} ${stat.slice(stat.indexOf('(')).split(' ').slice(0, 2).join(' ')} ${read(`/proc/${p}/wchan`)}`;
      } catch {
        return `${p} gone`;
      }
    });
}

async function settled() {
  return (await Promise.all(agent.memoryWatch.raises)).filter((r) => r !== null);
}

await step('reconcileAfterRestart', async () => {
  await stopAgent();
  // While the agent is down: the control plane commits a newer desired state (its order lost),
  // and someone edits the other container's cgroup by hand.
  const { pk, sk } = keys.hostState(plan.host);
  const host = (await h.table.get({ pk, sk })) as unknown as HostState | null;
  const desired = aHostState(
    plan.host,
    {
      [ORD]: { cpu: 30, mem: 280, memMax: 512, version: version + 1 },
      [FAST]: { cpu: 100, mem: 192, memMax: 512 },
    },
    600,
  );
  const fastVersion = Number((await h.applied(FAST))?.appliedVersion ?? 1);
  const fast = desired.containers[FAST];
  if (fast !== undefined) fast.desiredVersion = fastVersion;
  await h.putHost({ ...desired, version: (host?.version ?? 1) + 1 });
  writeFileSync(`${cgDir(FAST)}/cpu.max`, 'max 100000');
  const drifted = { ordCpuMax: readCg(ORD, 'cpu.max'), fastCpuMax: readCg(FAST, 'cpu.max') };
  agent = newAgent();
  const started = Date.now();
  await agent.start();
  const report = await h.waitApplied(ORD, version + 1, 30_000);
  await waitFor('the hand edit repaired', 30_000, () => readCg(FAST, 'cpu.max') !== 'max 100000');
  return {
    drifted,
    restartToRepairedSeconds: (Date.now() - started) / 1000,
    report,
    kernel: { ordCpuMax: readCg(ORD, 'cpu.max'), ordMem: memFiles(ORD), fastCpuMax: readCg(FAST, 'cpu.max') },
  };
});

/** What the kernel does with the memory primitives both memory designs rely on (no agent). */
await step('memoryPrimitives', async () => {
  const out: Record<string, unknown> = {};
  // 1. memory.high under a higher memory.max throttles a growing allocation, no OOM kill.
  const hi = `${CG}/sc-probe-high`;
  mkdirSync(hi);
  writeFileSync(`${hi}/memory.max`, `${150 * MiB}`);
  writeFileSync(`${hi}/memory.high`, `${30 * MiB}`);
  const grower = spawnIn(hi, HOLD(60));
  const reachedHighMs = await waitFor(
    'memory.events high to move',
    60_000,
    () => (kv(read(`${hi}/memory.events`)).high ?? 0) > 0,
  );
  await sleep(1000);
  const held = {
    current: Number(read(`${hi}/memory.current`)),
    events: kv(read(`${hi}/memory.events`)),
    anon: kv(read(`${hi}/memory.stat`)).anon,
    tasks: read(`${hi}/cgroup.procs`).split('\n').length,
  };
  await sleep(1000);
  const heldLater = {
    current: Number(read(`${hi}/memory.current`)),
    events: kv(read(`${hi}/memory.events`)),
  };
  const aliveWhileHeld = grower.exitCode === null && grower.signalCode === null;
  writeFileSync(`${hi}/memory.high`, `${100 * MiB}`);
  let grewMs: number | null = null;
  const t = Date.now();
  try {
    await waitFor(
      'the allocation to finish after raising memory.high',
      60_000,
      () => Number(read(`${hi}/memory.current`)) >= 54 * MiB,
    );
    grewMs = Date.now() - t;
  } catch {
    grewMs = null;
  }
  out.high = {
    reachedHighMs,
    held,
    heldLater,
    aliveWhileHeld,
    grewMs,
    after: { current: Number(read(`${hi}/memory.current`)), events: kv(read(`${hi}/memory.events`)) },
    aliveAfter: grower.exitCode === null && grower.signalCode === null,
  };
  killAll(grower);
  await exited(grower);

  // 2. memory.max written below what is in use (anonymous, no swap): what the write does; and
  // 3. memory.high written below use (both cgroups fill at once: faults are slow in UML).
  const lo = `${CG}/sc-probe-max`;
  const hb = `${CG}/sc-probe-hb`;
  mkdirSync(lo);
  mkdirSync(hb);
  const holder = spawnIn(lo, HOLD(60));
  const h2 = spawnIn(hb, HOLD(60));
  await waitFor('the 60 MiB held twice', 60_000, () =>
    [lo, hb].every((d) => Number(read(`${d}/memory.current`)) >= 54 * MiB),
  );
  const before = { current: Number(read(`${lo}/memory.current`)), anon: kv(read(`${lo}/memory.stat`)).anon };
  const w = Date.now();
  const answer = tryWrite(`${lo}/memory.max`, `${20 * MiB}`);
  const writeMs = Date.now() - w;
  await sleep(500);
  out.maxBelowUse = {
    before,
    answer,
    writeMs,
    memoryMax: read(`${lo}/memory.max`),
    current: Number(read(`${lo}/memory.current`)),
    events: kv(read(`${lo}/memory.events`)),
  };
  killAll(holder);
  await exited(holder);

  // memory.high below use: accepted at once, memory.current stays (no swap to reclaim to)
  const w2 = Date.now();
  const answer2 = tryWrite(`${hb}/memory.high`, `${20 * MiB}`);
  out.highBelowUse = {
    answer: answer2,
    writeMs: Date.now() - w2,
    current: Number(read(`${hb}/memory.current`)),
    events: kv(read(`${hb}/memory.events`)),
    holderAlive: h2.exitCode === null && h2.signalCode === null,
  };
  killAll(h2);
  await exited(h2);
  return out;
});

/** The kernel's answers to writes the fake tree (test/support/cgroup-tree.ts) takes blindly. */
await step('kernelFormats', async () => {
  const d = `${CG}/sc-probe-fmt`;
  mkdirSync(d);
  const f = (file: string) => `${d}/${file}`;
  const out: Record<string, unknown> = {
    initial: Object.fromEntries(
      ['cpu.max', 'memory.max', 'memory.high', 'io.max', 'pids.max', 'memory.events', 'cpu.stat'].map((x) => [
        x,
        read(f(x)),
      ]),
    ),
    cpusetFilesExist: ['cpuset.cpus', 'cpuset.cpus.effective'].map((x) => existsSync(f(x))),
  };
  const probes: [string, string][] = [
    ['cpu.max', '500 100000'],
    ['cpu.max', '50000'],
    ['cpu.max', 'max'],
    ['cpu.max', '-1 100000'],
    ['cpu.max', '150000 100000'],
    ['memory.max', '-1'],
    ['memory.max', '104857600'],
    ['memory.max', '100000001'],
    ['memory.max', '64M'],
    ['memory.max', 'max'],
    ['memory.high', '1000001'],
    ['io.max', '98:0 rbps=1048576'],
    ['io.max', '98:0 wbps=2097152'],
    ['io.max', '98:1 rbps=1048576'],
    ['io.max', '98:0 rbps=max wbps=max'],
    ['io.max', '98:0 rbps=0'],
    ['pids.max', '64'],
  ];
  out.writes = probes.map(([file, value]) => ({
    file,
    value,
    answer: tryWrite(f(file), value),
    readBack: read(f(file)),
  }));
  return out;
});

/**
 * `npm start`'s demo containers on a v2-only host (local/containers.ts): the mode it picks, a plain
 * v2 cgroup workload made, driven to a cpu phase, limited by the agent's cgroup driver, removed.
 * (LXC demo containers are made by lxc-create's busybox template, ≈ 60 s inside UML: the LXC
 * containers above, started on this kernel, stand for them.)
 */
await step('demo', async () => {
  const support = await detectHostSupport();
  const c = await createPlainCgroupWorkload(`${TEST_NAME_PREFIX}-demo`);
  const dir = `${CG}/${c.cgroupPath}`;
  const out: Record<string, unknown> = {
    support,
    cgroupPath: c.cgroupPath,
    parentSubtreeControl: read(`${CG}/${dirname(c.cgroupPath)}/cgroup.subtree_control`),
  };
  try {
    await c.setPhase({ kind: 'cpu', workers: 1 });
    await sleep(800);
    const cg = { name: c.name, version: 'v2' as const, dirs: { unified: dir } };
    const p = planWrites(
      { cpuShares: 30, memMiB: 64 },
      {
        version: 'v2',
        cpuPeriodUs: 100_000,
        hostCpus: ['0'],
        hostMemMiB: 900,
        diskDevice: null,
        currentMemMiB: null,
        hasVeth: false,
        cpusetController: hasCpuset(cg),
      },
    );
    const applied = await applyPlan({ cg, veth: null, diskDevice: null }, p, tcShaper());
    await sleep(300);
    out.applied = { written: applied.written, issues: applied.issues };
    out.limits = await readDemoLimits(c.cgroupPath);
    out.measured = await measureCores(dir, 2000);
  } finally {
    await c.remove();
  }
  out.removed = !existsSync(dir);
  return out;
});

for (const c of children) killAll(c);
try {
  await stopAgent();
} catch {
  // already stopped by a failed step
}
if (harnessUp) await h.close();
for (const name of [ORD, FAST])
  await run('lxc-stop', ['-P', plan.lxcPath, '-n', name, '-k']).catch(() => undefined);
results.totalSeconds = (Date.now() - t0) / 1000;
save();
process.exit(0);
