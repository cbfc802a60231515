/**
 * The AWS calls the deployables make during a test run (adapters/aws-calls.ts), kept as
 * test/fixtures/aws-calls.jsonl: the set the packaged template's policies are proven against
 * (test/integration/scripts/package.test.ts). A run that records a call the fixture lacks fails
 * at teardown, so the fixture cannot fall behind the code; `SC_UPDATE_AWS_CALLS=1 npm test` adds
 * the new calls (delete the file first and run the integration and host suites to prune it).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AwsCall, RECORD_ENV } from '../../adapters/aws-calls.ts';

export const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'aws-calls.jsonl');

const keyOf = (c: AwsCall): string => JSON.stringify(c);

export function parseCalls(text: string): AwsCall[] {
  const seen = new Map<string, AwsCall>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const c = JSON.parse(line) as AwsCall;
    const norm: AwsCall = {
      deployable: c.deployable,
      action: c.action,
      resource: c.resource,
      ...(c.leadingKeys === undefined ? {} : { leadingKeys: c.leadingKeys }),
    };
    seen.set(keyOf(norm), norm);
  }
  return [...seen.values()].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
}

export function readFixture(file = FIXTURE): AwsCall[] {
  return existsSync(file) ? parseCalls(readFileSync(file, 'utf8')) : [];
}

export function formatCalls(calls: AwsCall[]): string {
  return calls.map((c) => `${keyOf(c)}\n`).join('');
}

/** Global setup: every client built with a record scope appends its calls to a fresh file. */
export function startRecording(project: string): string | null {
  if (process.env[RECORD_ENV]) return null;
  const dir = mkdtempSync(join(tmpdir(), `sc-aws-calls-${project}-`));
  const file = join(dir, 'calls.jsonl');
  writeFileSync(file, '');
  process.env[RECORD_ENV] = file;
  return file;
}

/** Global teardown: the calls recorded that the fixture lacks (and the fixture updated when asked). */
export function finishRecording(file: string | null, update = process.env.SC_UPDATE_AWS_CALLS === '1'): void {
  if (file === null) return;
  const recorded = parseCalls(existsSync(file) ? readFileSync(file, 'utf8') : '');
  rmSync(dirname(file), { recursive: true, force: true });
  delete process.env[RECORD_ENV];
  const fixture = readFixture();
  const known = new Set(fixture.map(keyOf));
  const fresh = recorded.filter((c) => !known.has(keyOf(c)));
  if (fresh.length === 0) return;
  if (update) {
    writeFileSync(FIXTURE, formatCalls(parseCalls(formatCalls([...fixture, ...fresh]))));
    process.stderr.write(`aws calls: ${fresh.length} new call(s) added to ${FIXTURE}\n`);
    return;
  }
  throw new Error(
    `The deployables made AWS calls that ${FIXTURE} does not list, so the IAM test never checked them:\n${formatCalls(fresh)}` +
      'Run the tests with SC_UPDATE_AWS_CALLS=1 to add them, then make serverless.yml allow them.',
  );
}
