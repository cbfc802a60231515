/**
 * The planner's view of the state table: host state items (capacity plus
 * desired container state, committed with one conditional write on
 * `version`), container locators, applications, applied versions and
 * activity records. Item layouts and codecs live in items.ts.
 */
import type { HostState } from '../../core/contracts/host.ts';
import type { Item } from '../../core/contracts/items.ts';
import {
  applicationItem,
  appliedItem,
  hostStateFromItem,
  hostStateToItem,
} from '../../core/contracts/items.ts';
import type { Application } from '../../core/contracts/structure.ts';
import { GSI1_KINDS, keys } from '../../core/contracts/table-layout.ts';
import { StaleStateError } from '../../core/errors.ts';
import { type ActivityLine, writeActivity } from './activity.ts';
import type { TableClient } from './table-client.ts';

export function locatorItem(container: string, host: string): Item & { pk: string; sk: string } {
  return { ...keys.containerLocator(container), host };
}

export function applicationToItem(app: Application): Item & { pk: string; sk: string } {
  return { ...keys.application(app.name), ...app };
}

export class ScalerStore {
  readonly table: TableClient;

  constructor(table: TableClient) {
    this.table = table;
  }

  async getHost(name: string): Promise<HostState | null> {
    const key = keys.hostState(name);
    const item = await this.table.get({ pk: key.pk, sk: key.sk });
    return item === null ? null : hostStateFromItem(item);
  }

  /** The host a container lives on, from its locator item; null if unknown. */
  async locateContainer(name: string): Promise<string | null> {
    const key = keys.containerLocator(name);
    const item = await this.table.get({ pk: key.pk, sk: key.sk });
    return typeof item?.host === 'string' ? item.host : null;
  }

  async getApplication(name: string): Promise<Application | null> {
    const key = keys.application(name);
    const item = await this.table.get({ pk: key.pk, sk: key.sk });
    return item === null ? null : applicationItem.fromItem(item);
  }

  /**
   * Write `next` only if the stored host is still at `expectedVersion`. A lost
   * race throws StaleStateError carrying the host state as it is now.
   */
  async commitHost(next: HostState, expectedVersion: number): Promise<void> {
    try {
      await this.table.putVersioned(hostStateToItem(next), expectedVersion, `host ${next.name}`);
    } catch (err) {
      if (err instanceof StaleStateError) {
        const current = err.current === null ? null : hostStateFromItem(err.current as Item);
        throw new StaleStateError<HostState>(err.message, current, {
          cause: err,
          context: { host: next.name },
        });
      }
      throw err;
    }
  }

  /** Create a host's state item; fails with StaleStateError if it exists. */
  async createHost(host: HostState): Promise<void> {
    await this.table.putVersioned(hostStateToItem(host), null, `host ${host.name}`);
  }

  async putLocator(container: string, host: string): Promise<void> {
    await this.table.put(locatorItem(container, host));
  }

  async listHosts(): Promise<string[]> {
    return this.table.listKind(GSI1_KINDS.hosts);
  }

  /** A host's state and the version each container's agent last applied (0 when none reported). */
  async getHostWithApplied(name: string): Promise<{ host: HostState; applied: Map<string, number> } | null> {
    const items = await this.table.queryPartition(keys.hostPartition(name));
    let host: HostState | null = null;
    const applied = new Map<string, number>();
    for (const item of items) {
      if (item.sk === 'STATE') host = hostStateFromItem(item);
      else if (typeof item.sk === 'string' && item.sk.startsWith('APPLIED#')) {
        const report = appliedItem.safeFromItem(item);
        if (report.success) applied.set(report.data.container, report.data.appliedVersion);
      }
    }
    return host === null ? null : { host, applied };
  }

  /** Record activity lines now: a host's lines packed into one item, the others one item each. */
  async recordActivity(lines: readonly ActivityLine[]): Promise<void> {
    await writeActivity(this.table, lines);
  }
}
