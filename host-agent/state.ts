/**
 * The agent's view of the state table: its own host's items only (HostState,
 * APPLIED#<container>, AGENT). Reports are written with a condition so that
 * appliedVersion never moves backwards; host accounting goes through a
 * versioned write on the HostState item.
 */

import { HostState } from '../core/contracts/host.ts';
import type { Item } from '../core/contracts/items.ts';
import { fromStored, hostStateFromItem, toStored } from '../core/contracts/items.ts';
import { SCHEMA_VERSION } from '../core/contracts/order.ts';
import { AgentHeartbeat, AgentReport } from '../core/contracts/report.ts';
import { keys } from '../core/contracts/table-layout.ts';
import { parseOrThrow, StaleStateError } from '../core/errors.ts';
import type { AgentTable } from './aws/dynamo.ts';

/** The port the agent's use cases need (a fake in unit tests). */
export interface AgentStateStore {
  /**
   * This host's item; strongly consistent unless `consistent: false` (half the read units; may
   * miss a write made less than about a second ago, which versioned readers can tolerate).
   */
  readHost(opts?: { consistent?: boolean }): Promise<HostState | null>;
  /** Applied versions last reported, per container. */
  readApplied(): Promise<Map<string, number>>;
  /** Conditional on appliedVersion not decreasing; false when a newer report is already there. */
  putReport(report: AgentReport): Promise<boolean>;
  putHeartbeat(hb: AgentHeartbeat): Promise<void>;
  /** Versioned write of the host item; StaleStateError carries the current state. */
  commitHost(next: HostState, expectedVersion: number): Promise<void>;
}

/** The stored host item (HostState packed into `doc` by the shared codec) → HostState. */
export function parseHostItem(item: Item | null): HostState | null {
  return item === null ? null : hostStateFromItem(fromStored(item));
}

export class DynamoAgentState implements AgentStateStore {
  private readonly table: AgentTable;
  private readonly host: string;

  constructor(table: AgentTable, host: string) {
    this.table = table;
    this.host = host;
  }

  async readHost(opts: { consistent?: boolean } = {}): Promise<HostState | null> {
    const { pk, sk } = keys.hostState(this.host);
    return parseHostItem(await this.table.get({ pk, sk }, { consistent: opts.consistent ?? true }));
  }

  async readApplied(): Promise<Map<string, number>> {
    const items = await this.table.queryPartition(keys.hostPartition(this.host), { skPrefix: 'APPLIED#' });
    const out = new Map<string, number>();
    for (const i of items) {
      if (typeof i.container === 'string' && typeof i.appliedVersion === 'number')
        out.set(i.container, i.appliedVersion);
    }
    return out;
  }

  async putReport(report: AgentReport): Promise<boolean> {
    const valid = parseOrThrow(AgentReport, { ...report, schemaVersion: SCHEMA_VERSION }, 'agent report');
    try {
      await this.table.putIf(
        { ...keys.applied(this.host, valid.container), ...valid },
        {
          expression: 'attribute_not_exists(pk) OR appliedVersion <= :v',
          values: { ':v': valid.appliedVersion },
        },
        'applied state',
      );
      return true;
    } catch (err) {
      if (err instanceof StaleStateError) return false;
      throw err;
    }
  }

  async putHeartbeat(hb: AgentHeartbeat): Promise<void> {
    const valid = parseOrThrow(AgentHeartbeat, { ...hb, schemaVersion: SCHEMA_VERSION }, 'agent heartbeat');
    await this.table.put({ ...keys.agent(this.host), ...valid });
  }

  async commitHost(next: HostState, expectedVersion: number): Promise<void> {
    const valid = parseOrThrow(HostState, { ...next, schemaVersion: SCHEMA_VERSION }, 'host state');
    try {
      // Packed exactly as every other writer stores it (core/contracts/items.ts).
      await this.table.putVersioned(
        toStored({ ...keys.hostState(this.host), ...valid }),
        expectedVersion,
        'host state',
      );
    } catch (err) {
      if (err instanceof StaleStateError) {
        throw new StaleStateError(err.message, parseHostItem(err.current as Item | null), { cause: err });
      }
      throw err;
    }
  }
}
