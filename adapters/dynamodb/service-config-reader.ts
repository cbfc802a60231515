/**
 * The one way a deployable reads its service config from the state table
 * (docs/configuration.md, "Service configs"): the stored settings merged over
 * the defaults; when the read fails or the stored document is refused, the
 * last good config is kept and the failure logged; it throws only when there
 * never was a good one (the first read of a process).
 */
import type { ServiceConfigOf, ServiceName } from '../../core/contracts/service-config.ts';
import type { Logger } from '../logger.ts';
import { Catalog } from './catalog.ts';
import type { TableClient } from './table-client.ts';

export class ServiceConfigReader<S extends ServiceName> {
  private readonly catalog: Catalog;
  private readonly service: S;
  private readonly logger: Logger;
  private readonly consistent: boolean;
  private good: ServiceConfigOf<S> | null = null;

  constructor(table: TableClient, service: S, opts: { logger: Logger; consistent?: boolean }) {
    this.catalog = new Catalog(table);
    this.service = service;
    this.logger = opts.logger;
    this.consistent = opts.consistent ?? true;
  }

  /** The config as stored now, or the last good one (logged) when it cannot be read. */
  async read(): Promise<ServiceConfigOf<S>> {
    try {
      this.good = await this.catalog.loadServiceConfig(this.service, { consistent: this.consistent });
    } catch (err) {
      if (this.good === null) throw err;
      this.logger.warn({ err, service: this.service }, 'service config not read; the last good one is kept');
    }
    return this.good;
  }

  /** The last good config read; null before the first. */
  get last(): ServiceConfigOf<S> | null {
    return this.good;
  }
}
