/**
 * The OOM guard's fallback outside the agent process (see oom-guard.ts):
 * `node host-agent/oom-watchdog.ts` (systemd: sc-oom-watchdog.service) reads the
 * agent's lease every `SC_AGENT_OOM_LEASE_S / 6` (≤ 500 ms); once it has expired
 * or its pid is gone, it re-arms the kernel's OOM killer on every LXC container
 * of the host (v1 oom_kill_disable=0, v2 memory.max = memory.high), once per
 * lapse: a stalled task is then killed by the kernel instead of hanging for ever.
 * `--rearm-now` re-arms once and exits (the agent unit's ExecStopPost).
 * `--exit-when-lapsed` exits after the first lapse's re-arm (a watchdog started
 * with a short-lived agent, e.g. the local loop's, that must not outlive it).
 * `--only-prefix=<p>` limits it to containers whose names start with p (a host
 * whose LXC containers are not all the agent's, e.g. tests sharing a machine).
 *
 * It reads the agent's own settings (the same environment file) and nothing else;
 * it holds no state between polls but whether it has re-armed this lapse.
 */

import { detectCgroupVersion } from './cgroup/layout.ts';
import { loadAgentConfig } from './config.ts';
import { leaseHolds, pidAlive, readLease, rearmTree } from './oom-guard.ts';

const config = loadAgentConfig(process.env);
const version =
  config.cgroupVersion === 'auto' ? detectCgroupVersion(config.cgroupRoot) : config.cgroupVersion;
const prefixArg = process.argv.find((a) => a.startsWith('--only-prefix='));
const prefix = prefixArg === undefined ? '' : prefixArg.slice('--only-prefix='.length);
const exitWhenLapsed = process.argv.includes('--exit-when-lapsed');
const say = (msg: string, extra: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ time: Date.now(), name: 'oom-watchdog', msg, ...extra })}\n`);

if (process.argv.includes('--rearm-now')) {
  say('re-armed', { containers: rearmTree(config.cgroupRoot, version, prefix) });
} else if (config.oomLeasePath === null) {
  say('no OOM lease configured (SC_AGENT_OOM_LEASE=off): nothing to watch');
} else {
  const path = config.oomLeasePath;
  const periodMs = Math.min(500, Math.floor(config.oomLeaseMs / 6));
  let lapsed = false;
  // With --exit-when-lapsed, a lapse counts only after a lease was seen (the agent may start later).
  let seenLease = false;
  const check = () => {
    const holds = leaseHolds(readLease(path), Date.now(), pidAlive);
    if (holds) {
      lapsed = false;
      seenLease = true;
      return;
    }
    // Re-arm on every poll of a lapse: a container the agent disarmed just before it died is caught too.
    const names = rearmTree(config.cgroupRoot, version, prefix);
    if (!lapsed || names.length > 0) say('agent lease lapsed: OOM killer re-armed', { containers: names });
    lapsed = true;
    if (exitWhenLapsed && seenLease) process.exit(0);
  };
  check();
  const timer = setInterval(check, periodMs);
  const stop = () => {
    clearInterval(timer);
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  say('watching the agent lease', { path, periodMs, cgroup: version });
}
