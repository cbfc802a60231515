import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { amzDate, defaultCredentials, signV4 } from '../../../../host-agent/aws/signer.ts';

/** The SDK's signer with node:crypto's SHA-256: the reference our own must match. */
class Sha256 {
  private readonly h;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h =
      secret === undefined
        ? createHash('sha256')
        : createHmac('sha256', typeof secret === 'string' ? secret : new Uint8Array(secret as ArrayBuffer));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(typeof data === 'string' ? data : new Uint8Array(data as ArrayBuffer));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
  reset(): void {}
}

async function reference(
  req: { hostname: string; path: string; headers: Record<string, string>; body: string },
  creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  region: string,
  service: string,
  now: Date,
): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    service,
    region,
    credentials: creds,
    sha256: Sha256,
    applyChecksum: false,
  });
  const out = await signer.sign(
    {
      method: 'POST',
      protocol: 'https:',
      hostname: req.hostname,
      path: req.path,
      query: {},
      headers: req.headers,
      body: req.body,
    },
    { signingDate: now },
  );
  return out.headers as Record<string, string>;
}

const NOW = new Date(Date.UTC(2026, 10, 28, 5, 6, 7, 890));

describe('SigV4 signing of the agent’s JSON requests', () => {
  it('writes the date as yyyymmddThhmmssZ', () => {
    expect(amzDate(NOW)).toBe('20261128T050607Z');
  });

  it('matches @smithy/signature-v4 for an SQS ReceiveMessage', async () => {
    const req = {
      method: 'POST',
      hostname: 'sqs.eu-west-1.amazonaws.com',
      path: '/',
      headers: {
        host: 'sqs.eu-west-1.amazonaws.com',
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'AmazonSQS.ReceiveMessage',
        'content-length': '42',
      },
      body: '{"QueueUrl":"https://sqs/q","WaitTimeSeconds":20}',
    };
    const creds = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
    const ours = signV4(req, creds, 'eu-west-1', 'sqs', NOW);
    const theirs = await reference(req, creds, 'eu-west-1', 'sqs', NOW);
    expect(ours.authorization).toBe(theirs.authorization);
    expect(ours['x-amz-date']).toBe(theirs['x-amz-date']);
    expect(ours.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20261128\/eu-west-1\/sqs\/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-date;x-amz-target, Signature=[0-9a-f]{64}$/,
    );
  });

  it('signs the session token of temporary credentials', async () => {
    const req = {
      method: 'POST',
      hostname: 'dynamodb.us-east-1.amazonaws.com',
      path: '/',
      headers: { host: 'dynamodb.us-east-1.amazonaws.com', 'x-amz-target': 'DynamoDB_20120810.GetItem' },
      body: '{}',
    };
    const creds = { accessKeyId: 'ASIA1', secretAccessKey: 's', sessionToken: 'tok en' };
    const ours = signV4(req, creds, 'us-east-1', 'dynamodb', NOW);
    expect(ours['x-amz-security-token']).toBe('tok en');
    expect(ours.authorization).toContain('x-amz-security-token');
    expect(ours.authorization).toBe(
      (await reference(req, creds, 'us-east-1', 'dynamodb', NOW)).authorization,
    );
  });

  it('matches @smithy/signature-v4 for any body, path, header value and secret', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string(),
        fc.array(fc.stringMatching(/^[A-Za-z0-9._~ !*()'-]{1,8}$/), { maxLength: 3 }),
        fc.stringMatching(/^[ -~]{0,20}$/),
        fc.stringMatching(/^[A-Za-z0-9/+]{1,40}$/),
        fc.date({
          min: new Date(Date.UTC(2000, 0, 1)),
          max: new Date(Date.UTC(2099, 0, 1)),
          noInvalidDate: true,
        }),
        async (body, segments, value, secret, now) => {
          const req = {
            method: 'POST',
            hostname: 'localhost',
            path: `/${segments.join('/')}`,
            headers: {
              host: 'localhost:4566',
              'x-amz-target': value,
              'content-type': 'application/x-amz-json-1.0',
            },
            body,
          };
          const creds = { accessKeyId: 'AK', secretAccessKey: secret };
          const ours = signV4(req, creds, 'us-east-1', 'sqs', now);
          expect(ours.authorization).toBe(
            (await reference(req, creds, 'us-east-1', 'sqs', now)).authorization,
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('default credentials', () => {
  it('uses complete env credentials without loading the provider chain', async () => {
    const source = defaultCredentials({
      AWS_ACCESS_KEY_ID: 'a',
      AWS_SECRET_ACCESS_KEY: 'b',
      AWS_SESSION_TOKEN: 't',
    });
    await expect(source()).resolves.toEqual({ accessKeyId: 'a', secretAccessKey: 'b', sessionToken: 't' });
  });

  it('leaves out an empty session token', async () => {
    const source = defaultCredentials({
      AWS_ACCESS_KEY_ID: 'a',
      AWS_SECRET_ACCESS_KEY: 'b',
      AWS_SESSION_TOKEN: '',
    });
    await expect(source()).resolves.toEqual({ accessKeyId: 'a', secretAccessKey: 'b' });
  });
});
