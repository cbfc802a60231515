/**
 * The per-tick fixed reads (the Guardian's config and its rules) made once per
 * invocation: every tick an invocation runs (a chained tick reads the config
 * before its lease and again in the tick; a batch of clock messages runs one
 * tick per shard) shares them, so N shards read them N times a window at most.
 * Only for invocations of the chained clock: one that ticks window after window
 * (run-ticks.ts) must hot-reload them every tick, and does not use this.
 */
import type { GuardianConfig } from '../../core/contracts/service-config.ts';
import type { GuardianState } from '../../core/ports/guardian-state.ts';

type ConfigRead = Awaited<ReturnType<GuardianState['loadConfig']>>;
type RulesRead = Awaited<ReturnType<GuardianState['loadRules']>>;

/** `state` with loadConfig and loadRules read once (a failed read is tried again on the next call). */
export function withInvocationReads<S extends GuardianState>(state: S): S {
  let config: Promise<ConfigRead> | null = null;
  const rules = new Map<GuardianConfig, Promise<RulesRead>>();
  const loadConfig = (fallback: GuardianConfig) => {
    config ??= state.loadConfig(fallback).catch((err: unknown) => {
      config = null;
      throw err;
    });
    return config;
  };
  const loadRules = (cfg: GuardianConfig) => {
    let read = rules.get(cfg);
    if (read === undefined) {
      read = state.loadRules(cfg).catch((err: unknown) => {
        rules.delete(cfg);
        throw err;
      });
      rules.set(cfg, read);
    }
    return read;
  };
  return new Proxy(state, {
    get(target, prop) {
      if (prop === 'loadConfig') return loadConfig;
      if (prop === 'loadRules') return loadRules;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
