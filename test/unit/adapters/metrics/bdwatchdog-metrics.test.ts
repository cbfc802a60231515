import { describe, expect, it } from '@jest/globals';
import {
  chunk,
  metricsFor,
  regexEscape,
  tagKey,
  UsageReducer,
} from '../../../../adapters/metrics/bdwatchdog-metrics.ts';

describe('BDWatchdog metric mapping', () => {
  it('maps resources to the metrics the original sums', () => {
    expect(metricsFor('container', 'cpu')).toEqual(['proc.cpu.user', 'proc.cpu.kernel']);
    expect(metricsFor('container', 'mem')).toEqual(['proc.mem.resident']);
    expect(metricsFor('container', 'net')).toEqual(['proc.net.tcp.in.mb', 'proc.net.tcp.out.mb']);
    expect(metricsFor('application', 'disk_read')).toEqual(['structure.disk_read.usage']);
    expect(tagKey('container')).toBe('host');
    expect(tagKey('application')).toBe('structure');
  });
});

describe('UsageReducer', () => {
  it('settles absent readings with the agent series only when asked: idle 0, missing null', () => {
    const r = new UsageReducer();
    r.addSeries('idle', 'sc.agent.cpu', [0, 0.4, 0]); // running, ≈ 0 CPU; BDWatchdog sent nothing
    r.addSeries('busy', 'proc.cpu.user', [120]);
    r.addSeries('busy', 'sc.agent.cpu', [121]);
    r.addSeries('lagging', 'sc.agent.cpu', [80]); // the agent saw work BDWatchdog did not report (yet)
    const names = ['idle', 'busy', 'lagging', 'gone'];
    expect(r.result(names, 'container', ['cpu', 'mem'], true)).toEqual(
      new Map([
        ['idle', { cpu: 0, mem: null }],
        ['busy', { cpu: 120, mem: null }],
        ['lagging', { cpu: null, mem: null }],
        ['gone', { cpu: null, mem: null }], // no agent point: TSD, agent or container down
      ]),
    );
    expect(r.result(['idle'], 'container', ['cpu'])).toEqual(new Map([['idle', { cpu: null }]])); // off: absent is null
  });

  it('does not take rejected agent evidence', () => {
    const r = new UsageReducer();
    r.addSeries('x', 'sc.agent.cpu', [0, -3]);
    expect(r.result(['x'], 'container', ['cpu'], true).get('x')).toEqual({ cpu: null });
  });

  it('takes the mean of each series and sums the sub-metrics', () => {
    const r = new UsageReducer();
    // the bdwatchdog.md example: user mean (182.4 + 190 + 176.2) / 3 = 182.87, kernel (11 + 9.4 + 12.2) / 3 = 10.87
    r.addSeries('cont0', 'proc.cpu.user', [182.4, 190.0, 176.2]);
    r.addSeries('cont0', 'proc.cpu.kernel', ['11.0', '9.4', '12.2']);
    const cpu = r.result(['cont0'], 'container', ['cpu']).get('cont0')?.cpu ?? 0;
    expect(cpu).toBeCloseTo(193.73, 2); // 182.87 + 10.87
  });

  it('gives null when no sub-metric has data, and sums the ones that do', () => {
    const r = new UsageReducer();
    r.addSeries('a', 'proc.net.tcp.in.mb', [3]);
    r.addSeries('a', 'proc.mem.resident', []);
    expect(r.result(['a', 'b'], 'container', ['net', 'mem'])).toEqual(
      new Map([
        ['a', { net: 3, mem: null }],
        ['b', { net: null, mem: null }],
      ]),
    );
  });

  it('rejects NaN, negative and non-numeric points: that resource becomes null, counted', () => {
    const r = new UsageReducer();
    r.addSeries('a', 'proc.cpu.user', [10, Number.NaN]);
    r.addSeries('a', 'proc.cpu.kernel', [5]);
    r.addSeries('b', 'proc.cpu.user', [-1]);
    r.addSeries('c', 'proc.cpu.user', ['x']);
    r.addSeries('d', 'proc.cpu.user', [7]);
    const out = r.result(['a', 'b', 'c', 'd'], 'container', ['cpu']);
    expect([...out.values()].map((u) => u.cpu)).toEqual([null, null, null, 7]);
    expect(r.rejected.map((x) => x.structure)).toEqual(['a', 'b', 'c']);
  });
});

describe('helpers', () => {
  it('chunks and escapes', () => {
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(regexEscape('web.1-a')).toBe('web\\.1-a');
  });
});
