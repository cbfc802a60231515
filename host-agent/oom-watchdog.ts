/**
 * The OOM guard's fallback outside the agent process (see oom-guard.ts):
 * `node host-agent/oom-watchdog.ts` (systemd: sc-oom-watchdog.service) reads the
 * agent's lease every `SC_AGENT_OOM_LEASE_S / 6` (≤ 500 ms); once it has expired
 * or its pid is gone, it re-arms the kernel's OOM killer on the LXC containers
 * the lease names (v1 oom_kill_disable=0, v2 memory.max = memory.high), on
 * every poll of a lapse: a stalled task is then killed by the kernel instead of hanging for ever.
 * `--rearm-now` re-arms once and exits (the agent unit's ExecStopPost).
 * `--exit-when-lapsed` exits after a lapse's re-arm, once a lease it saw is
 * gone, or when the process that started it is gone with no lease written (a
 * watchdog started with a short-lived agent, e.g. the local loop's).
 *
 * It reads the agent's own settings (the same environment file) and the lease,
 * nothing else, and touches only the containers the lease names.
 */
import { detectCgroupVersion } from './cgroup/layout.ts';
import { loadAgentConfig } from './config.ts';
import { leaseHolds, pidAlive, readLease, rearmNamed, rearmTree } from './oom-guard.ts';

const config = loadAgentConfig(process.env);
const version =
  config.cgroupVersion === 'auto' ? detectCgroupVersion(config.cgroupRoot) : config.cgroupVersion;
const exitWhenLapsed = process.argv.includes('--exit-when-lapsed');
const say = (msg: string, extra: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ time: Date.now(), name: 'oom-watchdog', msg, ...extra })}\n`);

if (process.argv.includes('--rearm-now')) {
  // The agent unit's ExecStopPost: the lease's containers, or every LXC container without one.
  const lease = config.oomLeasePath === null ? null : readLease(config.oomLeasePath);
  const names =
    lease === null
      ? rearmTree(config.cgroupRoot, version)
      : rearmNamed(config.cgroupRoot, version, lease.containers);
  say('re-armed', { containers: names });
} else if (config.oomLeasePath === null) {
  say('no OOM lease configured (SC_AGENT_OOM_LEASE=off): nothing to watch');
} else {
  const path = config.oomLeasePath;
  const periodMs = Math.min(500, Math.floor(config.oomLeaseMs / 6));
  let seen = false;
  const parentPid = process.ppid;
  const check = () => {
    const lease = readLease(path);
    if (lease === null) {
      // No lease: nothing is disarmed (never held, or the agent stopped cleanly: it re-armed first).
      // A watchdog of a short-lived agent also exits when the process that started it is gone
      // before it ever saw a lease (nothing was disarmed, and nothing will be).
      if (exitWhenLapsed && (seen || !pidAlive(parentPid))) process.exit(0);
      return;
    }
    seen = true;
    if (leaseHolds(lease, Date.now(), pidAlive)) return;
    // Lapsed: every poll re-arms what the lease names (idempotent: only what is still disarmed is written).
    const names = rearmNamed(config.cgroupRoot, version, lease.containers);
    if (names.length > 0) say('agent lease lapsed: OOM killer re-armed', { containers: names });
    if (exitWhenLapsed) process.exit(0);
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
