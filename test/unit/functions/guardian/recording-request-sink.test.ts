import { describe, expect, it } from '@jest/globals';
import type { ScaleRequest } from '../../../../core/contracts/request.ts';
import { RecordingRequestSink } from '../../../../functions/guardian/recording-request-sink.ts';
import { captureLogger } from '../../../support/capture-logger.ts';

const aRequest = (i: number): ScaleRequest => ({
  id: `c0:cpu:${i}:CpuRescaleUp`,
  structure: 'c0',
  structureType: 'container',
  resource: 'cpu',
  field: 'current',
  amount: 75,
  priority: 0,
  timestamp: i,
  pairStructure: null,
  source: 'guardian',
  usage: 290,
  reasons: [],
});

describe('RecordingRequestSink', () => {
  it('logs and keeps requests but accepts none (no planner behind it)', async () => {
    const { logger, lines } = captureLogger();
    const sink = new RecordingRequestSink(logger, 2);
    expect(await sink.submit([aRequest(1), aRequest(2), aRequest(3)], 5)).toEqual({
      accepted: 0,
      rejected: [],
      orders: 0,
    });
    expect(sink.recorded.map((r) => r.timestamp)).toEqual([2, 3]); // bounded, newest kept
    expect(lines().map((l) => l.msg)).toEqual(
      Array(3).fill('request recorded (no planner): CpuRescaleUp 75 for c0'),
    );
  });
});
