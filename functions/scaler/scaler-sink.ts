/**
 * The Planner as the control tick's RequestSink, with the Scaler's service
 * config hot-reloaded from the state table before each submission (the last
 * good config is kept when the read fails) and ACTIVE honoured: an inactive
 * Scaler refuses every request with that reason, and nothing is planned.
 */
import type { Logger } from '../../adapters/logger.ts';
import { silentLogger } from '../../adapters/logger.ts';
import type { ScaleRequest } from '../../core/contracts/request.ts';
import { defaultConfig, type ScalerConfig } from '../../core/contracts/service-config.ts';
import type { RequestSink, SubmitHints, SubmitResult } from '../../core/ports/request-sink.ts';
import { Planner, type PlannerDeps } from './scaler-pass.ts';

export interface ScalerSinkDeps extends Omit<PlannerDeps, 'config'> {
  /** The Scaler's effective config as stored now (e.g. Catalog.loadServiceConfig('scaler')). */
  loadConfig(): Promise<ScalerConfig>;
}

export class ScalerSink implements RequestSink {
  readonly planner: Planner;
  private config: ScalerConfig = defaultConfig('scaler');
  private readonly loadConfig: () => Promise<ScalerConfig>;
  private readonly log: Logger;

  constructor(deps: ScalerSinkDeps) {
    const { loadConfig, ...plannerDeps } = deps;
    this.loadConfig = loadConfig;
    this.log = deps.log ?? silentLogger;
    this.planner = new Planner({ ...plannerDeps, config: () => this.config });
  }

  /** The config the last submission planned with. */
  get currentConfig(): ScalerConfig {
    return this.config;
  }

  async submit(requests: readonly ScaleRequest[], now: number, hints?: SubmitHints): Promise<SubmitResult> {
    if (requests.length === 0) return { accepted: 0, rejected: [], orders: 0 };
    try {
      this.config = await this.loadConfig();
    } catch (err) {
      this.log.warn({ err }, 'scaler config not reloaded; planning with the last good one');
    }
    if (!this.config.ACTIVE) {
      return {
        accepted: 0,
        rejected: requests.map((r) => ({ id: r.id, reason: 'scaler inactive (ACTIVE=false)' })),
        orders: 0,
      };
    }
    return this.planner.submit(requests, now, hints);
  }
}
