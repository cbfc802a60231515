import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { settingsMarkdown } from '../../../host-agent/config.ts';

describe('host-agent/README.md', () => {
  it('holds the settings table as the schema generates it', () => {
    expect(readFileSync('host-agent/README.md', 'utf8')).toContain(settingsMarkdown());
  });
});
