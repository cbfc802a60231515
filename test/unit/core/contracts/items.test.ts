import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Activity } from '../../../../core/contracts/activity.ts';
import {
  activityExpiresAtS,
  activityFromItem,
  activityLinesFromItem,
  activityToItem,
  appliedToItem,
  body,
  containerGuardItem,
  fromStored,
  heartbeatToItem,
  hostStateFromItem,
  hostStateItem,
  hostStateToItem,
  isExpired,
  isPackedActivityItem,
  MAX_PACK_SPAN_MS,
  MAX_PACKED_JSON_BYTES,
  PACKED_LINES_ATTRIBUTE,
  packedActivityItems,
  safeActivityFromItem,
  toStored,
} from '../../../../core/contracts/items.ts';
import { SCHEMA_VERSION } from '../../../../core/contracts/order.ts';
import type { AgentReport } from '../../../../core/contracts/report.ts';
import { keys } from '../../../../core/contracts/table-layout.ts';
import { RESOURCES } from '../../../../core/contracts/units.ts';
import { ValidationError } from '../../../../core/errors.ts';
import { admitContainer } from '../../../../core/policy/planner/admission.ts';
import { aContainer, unadmitted } from '../../../support/containers.ts';
import { aHost, spec } from '../../../support/planner-fixtures.ts';

function hostWithTwo() {
  let host = { ...aHost({ name: 'h1', queueUrl: 'http://q/h1' }), version: 7 };
  for (const name of ['a', 'b']) {
    const out = admitContainer(
      host,
      aContainer(name, 'h1', {
        resources: { cpu: spec(150, 50, 400), mem: spec(1024, 256, 4096) },
        ...unadmitted(),
      }),
      0,
    );
    if (!out.ok) throw new Error(out.reason);
    host = out.host;
  }
  return { ...host, version: 7 };
}

describe('host state item', () => {
  it('is stored as key attributes, a top-level version and one deflated JSON doc', () => {
    const host = hostWithTwo();
    const stored = toStored(hostStateToItem(host));
    expect(Object.keys(stored).sort()).toEqual(['docz', 'gsi1pk', 'gsi1sk', 'pk', 'sk', 'version']);
    expect(stored).toMatchObject({ ...keys.hostState('h1'), version: 7 });
    const json = inflateRawSync(stored.docz as Uint8Array).toString('utf8');
    expect((stored.docz as Uint8Array).length).toBeLessThan(json.length / 2);
    const doc = JSON.parse(json) as Record<string, unknown>;
    expect(doc.version).toBeUndefined();
    expect(doc.containers).toEqual(host.containers);
  });

  it('reads back exactly what was written', () => {
    const host = hostWithTwo();
    // Written in the current schema version.
    expect(hostStateFromItem(fromStored(toStored(hostStateToItem(host))))).toEqual({
      ...host,
      schemaVersion: SCHEMA_VERSION,
    });
  });

  it('reads an item in the older JSON-string layout', () => {
    const host = hostWithTwo();
    const { docz, ...rest } = toStored(hostStateToItem(host));
    const older = { ...rest, doc: inflateRawSync(docz as Uint8Array).toString('utf8') };
    expect(hostStateFromItem(fromStored(older))).toEqual({ ...host, schemaVersion: SCHEMA_VERSION });
  });

  it('reads an item in the older flat layout unchanged', () => {
    const host = hostWithTwo();
    const flat = { ...keys.hostState('h1'), ...host };
    expect(fromStored(flat)).toBe(flat);
    expect(hostStateFromItem(fromStored(flat))).toEqual(host);
  });

  it('takes the top-level version over any version inside the doc', () => {
    const stored = toStored(hostStateToItem(hostWithTwo()));
    const json = JSON.parse(inflateRawSync(stored.docz as Uint8Array).toString('utf8'));
    const tampered = { ...stored, docz: deflateRawSync(JSON.stringify({ ...json, version: 1 })) };
    expect(hostStateFromItem(fromStored(tampered)).version).toBe(7);
  });

  it('refuses to write a host state that breaks its contract, naming the field', () => {
    const host = hostWithTwo();
    const bad = { ...host, capacity: { ...host.capacity, mem: { max: 100, free: -5 } } };
    expect(() => hostStateToItem(bad)).toThrow(ValidationError);
    expect(() => hostStateToItem(bad)).toThrow(/capacity\.mem\.free/);
  });

  it('reports a stored item that breaks its contract, safely or by throwing', () => {
    const item = { ...keys.hostState('h1'), version: 2, name: 'h1' };
    expect(hostStateItem.safeFromItem(item).success).toBe(false);
    expect(() => hostStateFromItem(item)).toThrow(ValidationError);
  });
});

describe('flat items', () => {
  it('leave every item other than a host state untouched by the stored layout', () => {
    const item = { ...keys.guard('h1', 'a'), version: 3, structure: 'a' };
    expect(toStored(item)).toBe(item);
    expect(fromStored(item)).toBe(item);
  });

  it('key an agent report by its host and container', () => {
    const report: AgentReport = {
      host: 'h1',
      container: 'a',
      appliedVersion: 4,
      appliedAt: 1000,
      outcome: 'applied',
      limits: {
        cpuShares: 150,
        cpuset: '0',
        memMiB: 1024,
        diskReadMiBps: null,
        diskWriteMiBps: null,
        netMbps: null,
      },
      issues: [],
      via: 'order',
    };
    const item = appliedToItem(report);
    expect(item).toMatchObject(keys.applied('h1', 'a'));
    expect(body(item)).toEqual(report);
  });

  it('key a heartbeat by its host and refuse one without an agent version', () => {
    const hb = { host: 'h1', at: 5, agentVersion: '1', cgroupVersion: 'v1' as const, containers: ['a'] };
    expect(heartbeatToItem(hb)).toEqual({ ...keys.agent('h1'), ...hb });
    const { agentVersion: _v, ...bad } = hb;
    expect(() => heartbeatToItem(bad as typeof hb)).toThrow(/agentVersion/);
  });

  it('key an activity line by structure, time and sequence and read it back', () => {
    const item = activityToItem(
      { structure: 'a', at: 42, kind: 'order', resource: null, text: 'order v1', reasons: [], data: {} },
      's1',
    );
    expect(item).toMatchObject(keys.activity('a', 42, 's1'));
    expect(activityFromItem(item).text).toBe('order v1');
  });

  it('give an activity line its TTL: its time in epoch seconds + the retention (7 days by default)', () => {
    const line = { structure: 'a', at: 1_700_000_000_999, kind: 'order' as const, text: 'order v1' };
    // floor(1 700 000 000 999 / 1000) = 1 700 000 000 s; + 7 × 86 400 = 604 800 s
    expect(activityToItem(line, 's1').expiresAtS).toBe(1_700_604_800);
    // + 30 × 86 400 = 2 592 000 s
    expect(activityToItem(line, 's1', 30).expiresAtS).toBe(1_702_592_000);
    expect(activityExpiresAtS(line.at, 1)).toBe(1_700_086_400);
  });

  it('read an activity line back without its TTL attribute (the contract is strict)', () => {
    const item = activityToItem({ structure: 'a', at: 42, kind: 'order', text: 'x' }, 's1');
    expect(activityFromItem(item)).not.toHaveProperty('expiresAtS');
    expect(safeActivityFromItem(item).success).toBe(true);
  });

  it('tell an expired item by its TTL at a given time; an item without one never expires', () => {
    const item = { pk: 'LOG#a', sk: 'x', expiresAtS: 1000 };
    expect(isExpired(item, 999_999)).toBe(false); // 1000 s = 1 000 000 ms
    expect(isExpired(item, 1_000_000)).toBe(true);
    expect(isExpired({ pk: 'LOG#a', sk: 'x' }, Number.MAX_SAFE_INTEGER)).toBe(false);
  });

  it('decode a guard item that fails its contract into a failed result, not an exception', () => {
    const result = containerGuardItem.safeFromItem({ ...keys.guard('h1', 'a'), version: 'x' });
    expect(result.success).toBe(false);
  });
});

const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,20}$/);
const scalar = fc.oneof(fc.integer(), fc.string({ maxLength: 20 }), fc.boolean(), fc.constant(null));
const line: fc.Arbitrary<Activity> = fc.record({
  structure: name,
  at: fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_000 + 2 * MAX_PACK_SPAN_MS }),
  kind: fc.constantFrom('event', 'request', 'order', 'report', 'decision', 'finding'),
  resource: fc.option(fc.constantFrom(...RESOURCES), { nil: null }),
  text: fc.string({ maxLength: 80 }),
  reasons: fc.array(
    fc.record({
      source: fc.string({ minLength: 1, maxLength: 20 }),
      text: fc.string({ maxLength: 60 }),
      values: fc.dictionary(
        fc.string({ maxLength: 8 }),
        fc.oneof(fc.integer(), fc.string({ maxLength: 10 }), fc.constant(null)),
        {
          maxKeys: 3,
        },
      ),
    }),
    { maxLength: 3 },
  ),
  data: fc.dictionary(fc.string({ maxLength: 8 }), scalar, { maxKeys: 4 }),
});

/** Lines in time order, equal times in their given order (what packing keeps). */
function byTime(lines: readonly Activity[]): Activity[] {
  return lines
    .map((a, i) => ({ a, i }))
    .sort((x, y) => x.a.at - y.a.at || x.i - y.i)
    .map((x) => x.a);
}

const aLine = (at: number, text = 'x'): Activity => ({
  structure: 'c1',
  at,
  kind: 'order',
  resource: 'cpu',
  text,
  reasons: [{ source: 'cpu_exceeded_upper', text: 'usage 250 > upper 240', values: { usage: 250 } }],
  data: { version: 3 },
});

describe('packed activity items', () => {
  it('give back every line packed, in time order, whatever the lines (round trip)', () => {
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 40 }), (lines) => {
        const items = packedActivityItems('h1', lines, 'p');
        const back = items.flatMap((i) => {
          const out = activityLinesFromItem(i);
          expect(out.bad).toBe(0);
          return out.lines;
        });
        expect(back).toEqual(byTime(lines));
      }),
    );
  });

  it('key each item in the host partition by its newest line and expire it with that line', () => {
    fc.assert(
      fc.property(
        fc.array(line, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 30 }),
        (lines, days) => {
          for (const item of packedActivityItems('h1', lines, 'p', days)) {
            const held = activityLinesFromItem(item).lines;
            const newest = Math.max(...held.map((a) => a.at));
            const oldest = Math.min(...held.map((a) => a.at));
            expect(item.pk).toBe(keys.activityPartition('h1'));
            expect(item.sk.startsWith(`${String(newest).padStart(15, '0')}#`)).toBe(true);
            expect(item.expiresAtS).toBe(Math.floor(newest / 1000) + days * 86_400);
            expect(newest - oldest).toBeLessThanOrEqual(MAX_PACK_SPAN_MS);
          }
        },
      ),
    );
  });

  it('pack a tick of small lines into one item far under 1 KB', () => {
    // 10 lines of ≈ 200 B of JSON each: 2 KB raw, one item; deflated they repeat, so < 1 KB
    const lines = Array.from({ length: 10 }, (_, i) => aLine(1_700_000_000_000 + i * 10_000, `order v${i}`));
    const items = packedActivityItems('h1', lines, 'p');
    expect(items).toHaveLength(1);
    const stored = items[0]?.[PACKED_LINES_ATTRIBUTE] as Uint8Array;
    expect(JSON.stringify(lines).length).toBeGreaterThan(1024);
    expect(stored.byteLength).toBeLessThan(1024);
    expect(isPackedActivityItem(items[0] ?? {})).toBe(true);
  });

  it('split lines over more items past the JSON size or the time span of one item, sort keys distinct', () => {
    const big = 'y'.repeat(10_000);
    const lines = Array.from({ length: 14 }, (_, i) => aLine(1_700_000_000_000 + i, big)); // 14 × ≈ 10.2 KB
    const items = packedActivityItems('h1', lines, 'p');
    expect(items.length).toBe(Math.ceil((14 * 10_200) / MAX_PACKED_JSON_BYTES)); // 142.8 KB / 64 KB → 3
    expect(new Set(items.map((i) => i.sk)).size).toBe(items.length);

    const spread = [aLine(0), aLine(MAX_PACK_SPAN_MS), aLine(MAX_PACK_SPAN_MS + 1)];
    const parts = packedActivityItems('h1', spread, 'p').map((i) =>
      activityLinesFromItem(i).lines.map((a) => a.at),
    );
    expect(parts).toEqual([[0, MAX_PACK_SPAN_MS], [MAX_PACK_SPAN_MS + 1]]);
  });

  it('refuse a bad line, naming the field, and pack nothing', () => {
    const bad = { ...aLine(5), structure: 'no spaces allowed' };
    expect(() => packedActivityItems('h1', [aLine(1), bad], 'p')).toThrow(ValidationError);
    expect(() => packedActivityItems('h1', [aLine(1), bad], 'p')).toThrow(/structure/);
  });

  it('read a single-line item (the older layout) as one line', () => {
    const item = activityToItem(aLine(42), 's1');
    expect(isPackedActivityItem(item)).toBe(false);
    expect(activityLinesFromItem(item)).toEqual({ lines: [aLine(42)], bad: 0 });
  });

  it('count lines that do not parse, or a packed attribute that is not deflated JSON, as bad', () => {
    const [item] = packedActivityItems('h1', [aLine(1), aLine(2)], 'p');
    if (item === undefined) throw new Error('no item');
    const mixed = {
      ...item,
      [PACKED_LINES_ATTRIBUTE]: deflateRawSync(JSON.stringify([aLine(1), { at: 'x' }])),
    };
    expect(activityLinesFromItem(mixed)).toEqual({ lines: [aLine(1)], bad: 1 });
    const garbage = { ...item, [PACKED_LINES_ATTRIBUTE]: new Uint8Array([1, 2, 3]) };
    expect(activityLinesFromItem(garbage)).toEqual({ lines: [], bad: 1 });
  });
});
