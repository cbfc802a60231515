import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from '@jest/globals';
import { createDynamoDocumentClient } from '../../../adapters/aws.ts';
import { Catalog } from '../../../adapters/dynamodb/catalog.ts';
import { TableClient } from '../../../adapters/dynamodb/table-client.ts';
import { DEFAULT_RULES } from '../../../core/policy/default-rules.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');

interface Proc {
  pid: number;
  ppid: number;
  state: string;
  cmd: string;
}

function processTable(): Proc[] {
  const out: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …; comm may hold spaces and parentheses.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      out.push({ pid: Number(entry), ppid: Number(rest[1]), state: rest[0] ?? '?', cmd });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

function descendants(root: number): Proc[] {
  const table = processTable();
  const found: Proc[] = [];
  const frontier = [root];
  while (frontier.length > 0) {
    const parent = frontier.pop();
    for (const p of table) {
      if (p.ppid === parent) {
        found.push(p);
        frontier.push(p.pid);
      }
    }
  }
  return found;
}

/** Alive = still in the process table and not a zombie waiting for its parent. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function startNpm(
  args: string[],
  env: Record<string, string>,
): { child: ChildProcess; output: () => string } {
  const child = spawn('npm', ['start', '--', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    detached: true, // its own process group, as a terminal gives a foreground job
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  return { child, output: () => output };
}

async function waitFor(pattern: RegExp, output: () => string, child: ChildProcess, ms: number) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const m = pattern.exec(output());
    if (m !== null) return m;
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${pattern} within ${ms} ms:\n${output()}`);
}

describe('npm start', () => {
  let running: ChildProcess | null = null;
  afterEach(() => {
    // Only if a test failed half-way: never leave the group behind.
    if (running?.pid !== undefined && running.exitCode === null) {
      try {
        process.kill(-running.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    running = null;
  });

  it('brings up a bootstrapped platform and leaves no process behind after Ctrl-C', async () => {
    const table = `sc-start-${process.pid}`;
    const { child, output } = startNpm([], { SC_TABLE: table });
    running = child;
    const ready = await waitFor(/ready in (\d+) ms/, output, child, 60_000);
    expect(Number(ready[1])).toBeGreaterThan(0);
    const endpoint = /AWS_ENDPOINT_URL_DYNAMODB=(http:\/\/127\.0\.0\.1:\d+)/.exec(output())?.[1];
    expect(endpoint).toBeDefined();
    expect(output()).toMatch(/metrics {5}http:\/\/127\.0\.0\.1:\d+/);

    // The platform really is up and bootstrapped: read the rules it loaded.
    const doc = createDynamoDocumentClient({
      endpoint: endpoint ?? '',
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      expect((await doc.send(new ListTablesCommand({}))).TableNames).toEqual([table]);
      const rules = await new Catalog(new TableClient(doc, table)).listRules();
      expect(rules).toHaveLength(DEFAULT_RULES.length);
    } finally {
      doc.destroy();
    }

    const tree = descendants(child.pid ?? -1);
    expect(tree.some((p) => p.cmd.includes('victoria-metrics'))).toBe(true);
    const exited = once(child, 'exit');
    process.kill(-(child.pid ?? 0), 'SIGINT'); // what Ctrl-C does: the whole foreground group
    await exited;
    await waitFor(/\[sc\] stopped/, output, child, 1);
    expect(tree.filter((p) => alive(p.pid))).toEqual([]);
  }, 120_000);

  it('stops DynamoDB Local (Java) and everything else on SIGTERM to npm alone', async () => {
    const { child, output } = startNpm(['--dynamodb-local', '--no-tsdb'], {});
    running = child;
    await waitFor(/ready in (\d+) ms/, output, child, 90_000);
    expect(output()).toMatch(/DynamoDB {4}http:\/\/127\.0\.0\.1:\d+ {2}\(dynamodb-local, table sc-state\)/);
    expect(output()).not.toMatch(/metrics {5}/);
    const tree = descendants(child.pid ?? -1);
    expect(tree.some((p) => p.cmd.includes('DynamoDBLocal.jar'))).toBe(true);
    const [code] = await Promise.all([once(child, 'exit'), Promise.resolve(child.kill('SIGTERM'))]);
    expect(code).toEqual([0, null]);
    expect(tree.filter((p) => alive(p.pid))).toEqual([]);
  }, 120_000);
});
