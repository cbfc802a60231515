import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { marshall, marshallItem, unmarshallItem } from '../../../../host-agent/aws/dynamo.ts';
import { errorName } from '../../../../host-agent/aws/json-rpc.ts';

describe('DynamoDB JSON marshalling', () => {
  it('writes each JSON type as its attribute type', () => {
    expect(
      marshallItem({ s: 'x', n: 1.5, b: false, z: null, l: [1, 'a'], m: { k: 2 }, gone: undefined }),
    ).toEqual({
      s: { S: 'x' },
      n: { N: '1.5' },
      b: { BOOL: false },
      z: { NULL: true },
      l: { L: [{ N: '1' }, { S: 'a' }] },
      m: { M: { k: { N: '2' } } },
    });
  });

  it('refuses what DynamoDB cannot hold, naming the attribute', () => {
    expect(() => marshallItem({ a: { b: Number.NaN } })).toThrow('a.b');
    expect(() => marshall(() => 1)).toThrow('function');
    expect(() => marshallItem({ d: new Date(0) })).toThrow('d: only plain objects');
  });

  it('reads back what it wrote (JSON values without undefined)', () => {
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.string(),
        fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? 0 : d)),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(
          fc.string().filter((k) => k !== '__proto__'),
          tie('value'),
          { maxKeys: 4 },
        ),
      ),
    })).value;
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string().filter((k) => k !== '__proto__'),
          json,
        ),
        (item) => {
          expect(unmarshallItem(marshallItem(item) as never)).toEqual(item);
        },
      ),
    );
  });

  it('keeps string and number sets as sets', () => {
    const m = marshallItem({ s: new Set(['a']), n: new Set([1, 2]) });
    expect(m).toEqual({ s: { SS: ['a'] }, n: { NS: ['1', '2'] } });
    expect(unmarshallItem(m)).toEqual({ s: new Set(['a']), n: new Set([1, 2]) });
  });
});

describe('AWS JSON error names', () => {
  it('takes the shape name after the namespace, as the SDK does', () => {
    expect(errorName('com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException', 'x')).toBe(
      'ConditionalCheckFailedException',
    );
    expect(errorName('com.amazonaws.sqs#QueueDoesNotExist', 'x')).toBe('QueueDoesNotExist');
    expect(errorName('ResourceNotFoundException:http://internal', 'x')).toBe('ResourceNotFoundException');
    expect(errorName(undefined, 'Http500Error')).toBe('Http500Error');
  });
});
