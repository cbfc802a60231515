/** Seed a state table with hosts and admitted containers for Scaler integration tests and benches. */
import type { ScalerStore } from '../../adapters/dynamodb/scaler-store.ts';
import type { HostState } from '../../core/contracts/host.ts';
import type { Container } from '../../core/contracts/structure.ts';
import { admitContainer } from '../../core/policy/planner/admission.ts';

/** Admit `containers` onto `host` (pure), then write the host item and one locator per container. */
export async function seedHost(
  store: ScalerStore,
  host: HostState,
  containers: readonly Container[],
  now: number,
): Promise<HostState> {
  let h = host;
  for (const c of containers) {
    const out = admitContainer(h, c, now);
    if (!out.ok) throw new Error(`${c.name}: ${out.reason}`);
    h = out.host;
  }
  await store.createHost(h);
  for (const c of containers) await store.putLocator(c.name, h.name);
  return h;
}
