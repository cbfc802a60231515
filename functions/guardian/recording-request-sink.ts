import type { Logger } from '../../adapters/logger.ts';
import type { ScaleRequest } from '../../core/contracts/request.ts';
import { requestAction } from '../../core/contracts/request.ts';
import type { RequestSink, SubmitHints, SubmitResult } from '../../core/ports/request-sink.ts';

/**
 * A RequestSink that only records (tests, and running the Guardian without a
 * planner): requests are observable — the tick stores each one as an activity
 * record, and this sink logs them — but nothing is planned or ordered, so it
 * accepts none. The deployed control tick uses the Scaler (ScalerSink).
 */
export class RecordingRequestSink implements RequestSink {
  private readonly logger: Logger;
  /** Requests seen, newest last, bounded. */
  readonly recorded: ScaleRequest[] = [];
  private readonly keep: number;

  constructor(logger: Logger, keep = 1000) {
    this.logger = logger;
    this.keep = keep;
  }

  async submit(requests: readonly ScaleRequest[], now: number, _hints?: SubmitHints): Promise<SubmitResult> {
    for (const r of requests) {
      this.logger.info(
        {
          request: r.id,
          structure: r.structure,
          resource: r.resource,
          amount: r.amount,
          reasons: r.reasons,
          now,
        },
        `request recorded (no planner): ${requestAction(r)} ${r.amount} for ${r.structure}`,
      );
      this.recorded.push(r);
    }
    if (this.recorded.length > this.keep) this.recorded.splice(0, this.recorded.length - this.keep);
    return { accepted: 0, rejected: [], orders: 0 };
  }
}
