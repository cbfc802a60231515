import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';

const dir = join(dirname(fileURLToPath(import.meta.url)), '../../../../../core/policy/planner');
const FORBIDDEN = [
  /from '@aws-sdk/,
  /from 'node:/,
  /adapters\//,
  /process\.env/,
  /Date\.now\(/,
  /new Date\(/,
  /Math\.random\(/,
];

describe('core/policy/planner is pure', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));

  it.each(files)('%s imports no SDK, node module or adapter and reads no clock or env', (file) => {
    const text = readFileSync(join(dir, file), 'utf8');
    expect(FORBIDDEN.filter((re) => re.test(text)).map(String)).toEqual([]);
  });
});
