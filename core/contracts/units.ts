import { z } from 'zod';

/**
 * Resources the system scales, with the unit each one is measured in everywhere
 * (state, orders, reports, metrics). Units are the original framework's, so
 * BDWatchdog data and rules written for it carry over unchanged.
 */
export const RESOURCES = ['cpu', 'mem', 'disk_read', 'disk_write', 'net'] as const;
export const Resource = z.enum(RESOURCES);
export type Resource = z.infer<typeof Resource>;

export const RESOURCE_UNITS = {
  cpu: 'shares', // 100 = one core
  mem: 'MiB',
  disk_read: 'MiB/s',
  disk_write: 'MiB/s',
  net: 'Mbit/s',
} as const satisfies Record<Resource, string>;

/** CPU in shares: 100 = one full core. */
export const SHARES_PER_CORE = 100;

/** A non-negative whole number of the resource's unit. */
export const Amount = z.number().int().nonnegative();
/** A measured usage: finite, non-negative, or null for "no data". */
export const Usage = z.number().finite().nonnegative().nullable();
export type Usage = z.infer<typeof Usage>;
export const EpochMillis = z.number().int().nonnegative();

/** Title-cased resource as in the original's event and request names: disk_read → Disk_read. */
export function titleResource(resource: Resource): string {
  return resource.charAt(0).toUpperCase() + resource.slice(1);
}
