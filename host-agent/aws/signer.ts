/**
 * Request signing for the agent's own AWS calls: AWS Signature Version 4 over node:crypto
 * (the agent signs only small JSON POSTs, so the header-signing case is all it needs; a unit
 * test checks it against @smithy/signature-v4, which would cost the agent ≈ 7 MB to load).
 * Credentials come from the environment when they are there; only otherwise (instance role,
 * profiles, SSO…) from the SDK's default chain, loaded on first use, so a host with env
 * credentials never pays for it.
 */

// CommonJS load: an ESM import of node:crypto runs its lazy webcrypto getters (≈ 1 MB).
const { createHash, createHmac } = process.getBuiltinModule('node:crypto');

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
  expiration?: Date | undefined;
}
export type CredentialSource = () => Promise<AwsCredentials>;

/** Env credentials if complete; otherwise the default provider chain, cached until near expiry. */
export function defaultCredentials(env: NodeJS.ProcessEnv = process.env): CredentialSource {
  const id = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  if (id && secret) {
    const creds: AwsCredentials = {
      accessKeyId: id,
      secretAccessKey: secret,
      ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    };
    return () => Promise.resolve(creds);
  }
  let chain: CredentialSource | null = null;
  let cached: AwsCredentials | null = null;
  return async () => {
    if (
      cached !== null &&
      (cached.expiration === undefined || cached.expiration.getTime() - Date.now() > 300_000)
    )
      return cached;
    if (chain === null) {
      const mod = await import('@aws-sdk/credential-provider-node');
      // A bundle may only give the CommonJS exports object as `default`.
      const make =
        mod.defaultProvider ??
        (mod as unknown as { default?: { defaultProvider?: typeof mod.defaultProvider } }).default
          ?.defaultProvider;
      if (make === undefined) throw new Error('@aws-sdk/credential-provider-node has no defaultProvider');
      chain = make() as CredentialSource;
    }
    cached = await chain();
    return cached;
  };
}

export interface SignableRequest {
  method: string;
  hostname: string;
  path: string;
  /** Lower-case names; `host` must be among them. */
  headers: Record<string, string>;
  body: string;
}

const sha256Hex = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/** RFC 3986 encoding of one path segment, as SigV4 wants it. */
function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The path as sent (already percent-encoded, as URL.pathname gives it), normalised and encoded
 * once more: services other than S3 sign the path's segments encoded twice.
 */
function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') segments.pop();
    else segments.push(seg);
  }
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  return `/${segments.map(encodeSegment).join('/')}${trailing}`;
}

/** yyyymmddThhmmssZ */
export function amzDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/**
 * Sign a request without a query string; returns its headers plus x-amz-date,
 * x-amz-security-token (temporary credentials) and authorization.
 */
export function signV4(
  req: SignableRequest,
  creds: AwsCredentials,
  region: string,
  service: string,
  now: Date,
): Record<string, string> {
  const date = amzDate(now);
  const day = date.slice(0, 8);
  const headers: Record<string, string> = { ...req.headers, 'x-amz-date': date };
  if (creds.sessionToken) headers['x-amz-security-token'] = creds.sessionToken;
  const names = Object.keys(headers)
    .map((n) => n.toLowerCase())
    .sort();
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v;
  const canonicalHeaders = names
    .map((n) => `${n}:${String(lower[n]).trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const signedHeaders = names.join(';');
  const path = canonicalPath(req.path);
  const canonical = [req.method, path, '', canonicalHeaders, signedHeaders, sha256Hex(req.body)].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', date, scope, sha256Hex(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, day), region), service), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}

export function createSigner(service: string, region: string, credentials: CredentialSource) {
  return async (req: SignableRequest): Promise<Record<string, string>> =>
    signV4(req, await credentials(), region, service, new Date());
}
