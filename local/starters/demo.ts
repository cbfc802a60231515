/**
 * The demo's containers: subscribing a container through the API and waiting until the Guardian
 * sees its usage and the agent has applied its first limits, and creating demo containers with the
 * phased workload (LXC busybox, else plain cgroups), each removed when the loop stops.
 */
import { systemClock } from '../../adapters/clock.ts';
import type { GuardianConfig } from '../../core/contracts/service-config.ts';
import { type MetricsSource, usageWindow } from '../../core/ports/metrics-source.ts';
import type { HostAgent } from '../../host-agent/agent.ts';
import type { AgentConfig } from '../../host-agent/config.ts';
import {
  createLxcWorkload,
  createPlainCgroupWorkload,
  type HostSupport,
  readDemoLimits,
  type WorkloadContainer,
} from '../containers.ts';
import type { HostRegistrationBody } from '../topology.ts';
import type { ApiCall } from './api.ts';
import type { Stops } from './local.ts';

/** A container's resources at subscription (shares, MiB). */
export interface GuardSpec {
  cpu: { min: number; current: number; max: number };
  mem: { min: number; current: number; max: number };
}

export const DEMO_SPEC: GuardSpec = {
  cpu: { min: 25, current: 50, max: 200 },
  mem: { min: 64, current: 128, max: 1024 },
};

export interface DemoContainers {
  /** Subscribe a container (already created) through the API and wait until its initial limits are applied. */
  guard(container: { name: string; cgroupPath: string }, spec?: GuardSpec): Promise<void>;
  /** Create and guard demo containers with the phased workload (LXC, else plain cgroups). */
  addDemoContainers(count: number): Promise<WorkloadContainer[]>;
  /** The demo containers made so far. */
  readonly demo: readonly WorkloadContainer[];
  /** The cgroup path of every container guarded, by name (the status table reads their limits). */
  readonly paths: ReadonlyMap<string, string>;
  /** How many containers were guarded. */
  guarded(): number;
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null>,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (signal.aborted) throw new Error(`${what}: aborted`);
    if (Date.now() > until) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await systemClock.sleep(100, signal).catch(() => undefined);
  }
}

export function demoContainers(o: {
  host: string;
  registration: HostRegistrationBody;
  call: ApiCall;
  agent: HostAgent;
  agentConfig: Readonly<AgentConfig>;
  support: HostSupport;
  /** The Guardian's config as the loop stores it: the window a new container's usage must show in. */
  tickConfig: GuardianConfig;
  usageReader: MetricsSource;
  signal: AbortSignal;
  say: (line: string) => void;
  stops: Stops;
}): DemoContainers {
  const { host, registration, call, agent, agentConfig, support, tickConfig, usageReader, say, stops } = o;
  const paths = new Map<string, string>();
  const demo: WorkloadContainer[] = [];
  let guardedNow = 0;

  const guard = async (container: { name: string; cgroupPath: string }, spec: GuardSpec = DEMO_SPEC) => {
    paths.set(container.name, container.cgroupPath);
    // The API refuses a max above the host's total: on a one-CPU machine the demo's 200 shares are 100.
    const within = (r: { min: number; current: number; max: number }, total: number) => ({
      min: Math.min(r.min, total),
      current: Math.min(r.current, total),
      max: Math.min(r.max, total),
    });
    const res = await call('PUT', `/containers/${container.name}`, {
      host,
      resources: {
        cpu: { ...within(spec.cpu, registration.cpu.topology.length * 100), guard: true },
        mem: { ...within(spec.mem, registration.memMiB), guard: true },
      },
      guard: true,
    });
    if (res.status !== 201 && res.status !== 200)
      throw new Error(`subscribing ${container.name}: ${res.status} ${JSON.stringify(res.body)}`);
    await agent.rescan(); // the publisher and the memory watch see it at once
    guardedNow += 1;
    // The agent drives LXC containers only: elsewhere nothing is applied or published to wait for.
    if (agentConfig.dryRun || support.mode !== 'lxc') return;
    const wantQuota = Math.round((spec.cpu.current * agentConfig.cpuPeriodUs) / 100);
    // A new series takes VictoriaMetrics several seconds to index: return once the Guardian can see it.
    const window = { ...tickConfig };
    await waitFor(
      `usage of ${container.name} in the metrics store`,
      async () => {
        const u = await usageReader.usage({
          kind: 'container',
          structures: [container.name],
          resources: ['cpu', 'mem'],
          window: usageWindow(Date.now(), window.WINDOW_TIMELAPSE, window.WINDOW_DELAY),
        });
        const row = u.usage.get(container.name);
        return row?.cpu !== null && row?.cpu !== undefined && row.mem !== null && row.mem !== undefined
          ? true
          : null;
      },
      60_000,
      o.signal,
    );
    await waitFor(
      `initial limits of ${container.name}`,
      async () => ((await readDemoLimits(container.cgroupPath)).quotaUs === wantQuota ? true : null),
      30_000,
      o.signal,
    );
  };

  const addDemoContainers = async (count: number): Promise<WorkloadContainer[]> => {
    const made: WorkloadContainer[] = [];
    if (support.mode === 'dry-run') {
      say(`container   none created: ${support.reason}`);
      return made;
    }
    for (let i = 1; i <= count; i++) {
      const name = `sc-demo${i}-${process.pid}`;
      say(`container   creating ${name} (${support.mode === 'lxc' ? 'LXC busybox' : 'plain cgroup'})`);
      const c =
        support.mode === 'lxc' ? await createLxcWorkload(name) : await createPlainCgroupWorkload(name);
      demo.push(c);
      made.push(c);
      stops.push({
        what: `container ${name}`,
        stop: async () => {
          await call('DELETE', `/containers/${name}`).catch(() => undefined);
          await c.remove();
        },
      });
      await guard(c);
      say(
        `container   ${name} subscribed and guarded (cpu ${DEMO_SPEC.cpu.current} shares, mem ${DEMO_SPEC.mem.current} MiB)`,
      );
    }
    return made;
  };

  return { guard, addDemoContainers, demo, paths, guarded: () => guardedNow };
}
