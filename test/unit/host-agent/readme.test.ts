import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { settingsMarkdown } from '../../../host-agent/config.ts';

/** Table text without the padding a formatter adds. */
const normalise = (md: string) => md.replace(/[ \t]*\|[ \t]*/g, '|').replace(/-{3,}/g, '---');

describe('host-agent/README.md', () => {
  it('holds the settings table as the schema generates it', () => {
    expect(normalise(readFileSync('host-agent/README.md', 'utf8'))).toContain(normalise(settingsMarkdown()));
  });
});
