/**
 * The real `sc` binary (bin/sc.js, started with the machine's Node when it is
 * older than 22, so the re-exec shim is exercised too) against the local API server.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { main } from '../../../cli/main.ts';
import { toEvent } from '../../../local/api-server.ts';
import { type ApiFixture, apiFixture } from '../functions/api/harness.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const SC = join(ROOT, 'bin', 'sc.js');
const SYSTEM_NODE = ['/usr/bin/node', '/usr/local/bin/node'].find(existsSync) ?? process.execPath;
const TOKEN = 'cli-test-token-42';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function body(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text;
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('sc against the local API', () => {
  let f: ApiFixture;
  let env: Record<string, string>;
  const extraServers: Server[] = [];
  const sc = (...args: string[]): Promise<Run> => scWith(env, ...args);
  const scWith = (runEnv: Record<string, string>, ...args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      execFile(SYSTEM_NODE, [SC, ...args], { env: runEnv, timeout: 30_000 }, (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      });
    });

  beforeAll(async () => {
    f = await apiFixture('dynalite');
    const server = await f.serve(TOKEN);
    env = { PATH: process.env.PATH ?? '', SC_API_URL: server.url, SC_API_TOKEN: TOKEN };
  });
  afterAll(async () => {
    for (const s of extraServers) s.close();
    await f.close();
  });

  it('registers, lists and shows a host', async () => {
    const add = await sc(
      'host',
      'add',
      'h1',
      '--cores',
      '4',
      '--mem',
      '8192',
      '--disk',
      'ssd:/mnt/ssd:500:300',
    );
    expect(add).toMatchObject({ code: 0, stderr: '' });
    expect(add.stdout).toContain('host h1 registered');
    const ls = await sc('host', 'ls');
    expect(ls.stdout).toMatch(/HOST\s+CPU FREE/);
    expect(ls.stdout).toMatch(/h1\s+400\s+400\s+8192\s+8192\s+0\s+no/);
    const json = await sc('--json', 'host', 'show', 'h1');
    expect(JSON.parse(json.stdout)).toMatchObject({ name: 'h1', capacity: { cpu: { max: 400 } } });
  });

  it('subscribes, changes and shows a container; scales it through the planner', async () => {
    const add = await sc(
      'container',
      'add',
      'c1',
      '--host',
      'h1',
      '--cpu',
      '200:50:100',
      '--mem',
      '2048:256:1024',
    );
    expect(add.code).toBe(0);
    expect(add.stdout).toContain('container c1 subscribed to h1');
    expect((await sc('container', 'set', 'c1', 'cpu', 'max=300')).code).toBe(0);
    const scale = await sc('scale', 'c1', 'cpu', '+100');
    expect(scale).toMatchObject({ code: 0 });
    expect(scale.stdout).toContain('planner accepted 1');
    const show = await sc('--json', 'container', 'show', 'c1');
    expect(JSON.parse(show.stdout).container.resources.cpu).toMatchObject({ max: 300, current: 200 });
  });

  it('prints the status table', async () => {
    const r = await sc('status');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/CONTAINER\s+RES\s+GUARD\s+USAGE\s+CURRENT/);
    expect(r.stdout).toMatch(/c1\s+cpu\s+yes\s+-\s+200/);
    const watch = await sc('status', '--watch', '0.1', '--iterations', '2');
    expect(watch.code).toBe(0);
    expect(watch.stdout.match(/CONTAINER/g)).toHaveLength(2);
  });

  it('manages rules and typed config values', async () => {
    expect((await sc('rule', 'deactivate', 'CpuRescaleUp')).code).toBe(0);
    expect((await sc('rule', 'set', 'CpuRescaleUp', 'amount', '50')).code).toBe(0);
    const rule = JSON.parse((await sc('--json', 'rule', 'show', 'CpuRescaleUp')).stdout);
    expect(rule).toMatchObject({ active: false, amount: 50 });
    expect((await sc('rule', 'ls')).stdout).toMatch(/CpuRescaleUp\s+cpu\s+no/);
    expect((await sc('config', 'set', 'guardian', 'WINDOW_TIMELAPSE', '4')).code).toBe(0);
    expect((await sc('config', 'get', 'guardian', 'WINDOW_TIMELAPSE')).stdout.trim()).toBe('4');
  });

  it('manages applications and users', async () => {
    expect((await sc('app', 'add', 'web', '--cpu', '400:100')).code).toBe(0);
    expect((await sc('app', 'attach', 'web', 'c1')).code).toBe(0);
    expect((await sc('user', 'add', 'ana')).code).toBe(0);
    expect((await sc('user', 'link', 'ana', 'web')).code).toBe(0);
    expect((await sc('app', 'ls')).stdout).toMatch(/web\s+ana\s+running\s+no\s+c1/);
  });

  it('exits 1 with the API message naming the field when the API refuses', async () => {
    const r = await sc('container', 'set', 'c1', 'cpu', 'max=10');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('(field: max)');
    expect(r.stderr).toContain('HTTP 400');
    const missing = await sc('container', 'show', 'ghost');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('container ghost not found');
  });

  it('exits 2 on usage errors and shows help', async () => {
    const r = await sc('container', 'add', 'c2', '--host', 'h1', '--cpu', '100');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('max:min:current');
    expect((await sc('host', 'add', 'h2')).code).toBe(2); // --mem is required
    const help = await sc('rule', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('activate');
  });

  it('exits 3 when the API cannot be reached and 1 on a wrong token', async () => {
    const down = await sc('--url', 'http://127.0.0.1:9', 'host', 'ls');
    expect(down.code).toBe(3);
    const wrong = await sc('--token', 'not-the-token', 'host', 'ls');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('HTTP 401');
  });

  it('unsubscribes the container and deregisters the host', async () => {
    await sc('app', 'detach', 'web', 'c1');
    expect((await sc('container', 'rm', 'c1')).code).toBe(0);
    expect((await sc('host', 'rm', 'h1')).code).toBe(0);
    expect((await sc('--json', 'host', 'ls')).stdout.trim()).toBe('[]');
  });

  it('signs requests with SigV4 for API Gateway when there is no token', async () => {
    const seen: Record<string, string | string[] | undefined>[] = [];
    // A stand-in for API Gateway with IAM authorization: records the signature, forwards the event.
    const gateway = createServer((req, res) => {
      void body(req).then(async (text) => {
        seen.push(req.headers);
        const out = await f.api.handle(toEvent(req, text));
        res.writeHead(out.statusCode, out.headers).end(out.body);
      });
    });
    extraServers.push(gateway);
    const url = await listen(gateway);
    const creds = {
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_REGION: 'eu-west-1',
    };
    const r = await scWith(
      { PATH: env.PATH ?? '', SC_API_URL: url, ...creds },
      '--json',
      'user',
      'show',
      'bo',
    );
    expect(r.code).toBe(1); // no such user: the request got through, signed
    expect(r.stderr).toContain('user bo not found');
    expect(String(seen[0]?.authorization)).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
    );
    expect(seen[0]?.['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
  });

  it('invokes the api function directly with --invoke, sending the same event', async () => {
    const invoked: string[] = [];
    // A stand-in for the Lambda Invoke API that runs the API on the event it is given.
    const lambda = createServer((req, res) => {
      void body(req).then(async (text) => {
        invoked.push(req.url ?? '');
        const out = await f.api.handle(JSON.parse(text));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
      });
    });
    extraServers.push(lambda);
    const url = await listen(lambda);
    const r = await scWith(
      {
        PATH: env.PATH ?? '',
        AWS_ENDPOINT_URL_LAMBDA: url,
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_REGION: 'us-east-1',
      },
      '--invoke',
      'serverless-containers-dev-api',
      '--json',
      'rule',
      'show',
      'CpuRescaleUp',
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'CpuRescaleUp', generates: 'requests' });
    expect(invoked[0]).toBe('/2015-03-31/functions/serverless-containers-dev-api/invocations');
  });
});

describe('the sc examples of docs/api.md, run as written on a fresh install', () => {
  let f: ApiFixture;
  let env: Record<string, string>;
  beforeAll(async () => {
    f = await apiFixture('dynalite');
    const server = await f.serve(TOKEN);
    env = { PATH: process.env.PATH ?? '', SC_API_URL: server.url, SC_API_TOKEN: TOKEN };
  });
  afterAll(async () => {
    await f.close();
  });

  /** Each `sc …` command of the "## `sc`" example block, comments dropped, `&&` and `;` split. */
  function examples(): string[][] {
    const doc = readFileSync(join(ROOT, 'docs', 'api.md'), 'utf8');
    const block = /## `sc`[\s\S]*?```sh\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
    return block
      .split('\n')
      .map((line) => line.replace(/\s+#.*$/, ''))
      .flatMap((line) => line.split(/&&|;/))
      .map((cmd) => cmd.trim())
      .filter((cmd) => cmd !== '')
      .map((cmd) => cmd.split(/\s+/));
  }

  it('every example succeeds', async () => {
    const commands = examples();
    expect(commands.length).toBeGreaterThan(10);
    for (const [sc, ...args] of commands) {
      expect(sc).toBe('sc');
      // --watch redraws until interrupted: once is enough here
      const run = args.includes('--watch') ? [...args, '--iterations', '1'] : args;
      // In-process (the binary's start-up is covered above): the same parsing and HTTP client.
      const err: string[] = [];
      const code = await main(run, { out: () => undefined, err: (t) => err.push(t), env });
      expect({ command: args.join(' '), code, err }).toEqual({ command: args.join(' '), code: 0, err: [] });
    }
  });
});
