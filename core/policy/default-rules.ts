import type { EventRule, RequestRule, Rule } from '../contracts/rule.ts';
import type { Resource } from '../contracts/units.ts';
import { titleResource } from '../contracts/units.ts';

/**
 * The default rules, as the original framework ships them (same names, same
 * conditions, same amounts), so its operators' knowledge carries over — with
 * one deliberate deviation: **fast up, slow down**.
 *
 * The original needs two `exceeded_upper` events before CpuRescaleUp,
 * MemRescaleUp and NetRescaleUp. A container pinned at its limit loses work
 * every window it waits, while an allocation left too high for a while only
 * costs idle capacity; so, like Kubernetes' HPA (immediate scale-up, 5-minute
 * scale-down stabilisation), the up rules here fire on ONE event (one window
 * whose mean usage is above `upper`) and the down rules keep the original's
 * 6 (cpu, disk, net) and 8 (mem) events. Worked numbers at the default config
 * (5 s windows read 2 s behind real time, boundary 10 % of max):
 * a container at current 65 of max 200 (upper 45) that starts a one-core job
 * crosses `upper` in the first window that is ≥ 70 % loaded — the request
 * follows 2 s + ≤ 5 s (tick phase) + ≈ 3.5 s (window fill) after the step,
 * one window (5 s) earlier than with two events; its allocation comes back
 * down only after 6 consecutive low windows (30 s), so a single noisy window
 * costs at most one step of +75 shares for ≈ 30 s, never a flap.
 * Operators who want the original behaviour set the events back
 * (`sc rule set CpuRescaleUp events-required 2`).
 *
 * Reachability under the default service config: the largest events_to_remove
 * (8, MemRescaleDown) × WINDOW_TIMELAPSE (5 s) = 40 s ≤ EVENT_TIMEOUT (60 s).
 */
const v = (path: string) => ({ var: path });

function exceededUpper(res: Resource): EventRule {
  return {
    name: `${res}_exceeded_upper`,
    resource: res,
    active: true,
    generates: 'events',
    action: { events: { scale: { up: 1 } } },
    rule: {
      and: [
        { '>': [v(`${res}.structure.${res}.usage`), v(`${res}.limits.${res}.upper`)] },
        { '<': [v(`${res}.limits.${res}.upper`), v(`${res}.structure.${res}.max`)] },
        { '<': [v(`${res}.structure.${res}.current`), v(`${res}.structure.${res}.max`)] },
      ],
    },
  };
}

/**
 * Usage below `lower` ⇒ one down event. Idle is data: a reading of 0 is a low
 * reading like any other and counts (`>= 0`); only "no data" holds a container,
 * and no data never reaches a rule (the Guardian skips a `null` reading before
 * evaluating: decide.ts). The original framework required `usage > 0` for
 * cpu, mem and net because its 0 also meant "no data"; here that guard only
 * kept idle services from ever shrinking (issue 14). `guard` is the
 * comparison of that first condition; the shipped rules use '>=', and
 * SUPERSEDED_DEFAULT_RULES rebuilds the older text with '>'.
 */
function droppedLower(res: Resource, guard: '>=' | '>' = '>='): EventRule {
  return {
    name: `${res}_dropped_lower`,
    resource: res,
    active: true,
    generates: 'events',
    action: { events: { scale: { down: 1 } } },
    rule: {
      and: [
        { [guard]: [v(`${res}.structure.${res}.usage`), 0] },
        { '<': [v(`${res}.structure.${res}.usage`), v(`${res}.limits.${res}.lower`)] },
        { '>': [v(`${res}.limits.${res}.lower`), v(`${res}.structure.${res}.min`)] },
      ],
    },
  };
}

function rescale(
  res: Resource,
  direction: 'up' | 'down',
  need: number,
  oppositeAtMost: number,
  policy: RequestRule['rescale_policy'],
  amount: number,
): RequestRule {
  const [own, other] = direction === 'up' ? ['up', 'down'] : ['down', 'up'];
  return {
    name: `${titleResource(res)}Rescale${direction === 'up' ? 'Up' : 'Down'}`,
    resource: res,
    active: true,
    generates: 'requests',
    rule: {
      and: [
        { '>=': [v(`events.scale.${own}`), need] },
        { '<=': [v(`events.scale.${other}`), oppositeAtMost] },
      ],
    },
    events_to_remove: need,
    rescale_type: direction,
    rescale_policy: policy,
    amount,
  };
}

export const DEFAULT_RULES: readonly Rule[] = Object.freeze([
  exceededUpper('cpu'),
  droppedLower('cpu'),
  rescale('cpu', 'up', 1, 2, 'amount', 75),
  rescale('cpu', 'down', 6, 0, 'fit_to_usage', 0),
  exceededUpper('mem'),
  droppedLower('mem'),
  rescale('mem', 'up', 1, 6, 'amount', 256),
  rescale('mem', 'down', 8, 0, 'fit_to_usage', 0),
  exceededUpper('disk_read'),
  droppedLower('disk_read'),
  rescale('disk_read', 'up', 1, 6, 'amount', 450),
  rescale('disk_read', 'down', 6, 0, 'fit_to_usage', 0),
  exceededUpper('disk_write'),
  droppedLower('disk_write'),
  rescale('disk_write', 'up', 1, 6, 'amount', 450),
  rescale('disk_write', 'down', 6, 0, 'fit_to_usage', 0),
  exceededUpper('net'),
  droppedLower('net'),
  rescale('net', 'up', 1, 2, 'amount', 100),
  rescale('net', 'down', 6, 0, 'fit_to_usage', 0),
]);

/**
 * Default rules as older releases shipped them, which a stored rule may still
 * equal exactly: bootstrap replaces a stored rule that deep-equals one of these
 * with its current default (a rule an operator edited differs, and is kept).
 * Add the old text here whenever a shipped default changes.
 * - cpu/mem/net_dropped_lower with `usage > 0` (until issue 14: idle is data).
 */
export const SUPERSEDED_DEFAULT_RULES: readonly Rule[] = Object.freeze([
  droppedLower('cpu', '>'),
  droppedLower('mem', '>'),
  droppedLower('net', '>'),
]);
