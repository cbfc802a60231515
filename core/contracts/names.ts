import { z } from 'zod';

/**
 * Names of hosts, containers, applications, users, rules and services.
 * They become cgroup directory names, SQS queue names, DynamoDB key parts and
 * OpenTSDB tag values, so they are strict: start with a letter or digit, then
 * letters, digits, '_', '.', '-'; at most 63 characters; never '/', never only dots.
 */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const NAME_RULE_TEXT =
  'must be 1-63 characters of letters, digits, "_", "." or "-", starting with a letter or digit';

export const Name = z.string().regex(NAME_PATTERN, { message: NAME_RULE_TEXT });
export const HostName = Name.describe('host name');
export const ContainerName = Name.describe('container name');
export const ApplicationName = Name.describe('application name');
export const UserName = Name.describe('user name');
export const RuleName = Name.describe('rule name');

export function isValidName(value: unknown): value is string {
  return typeof value === 'string' && NAME_PATTERN.test(value);
}
