/**
 * Reading maps keyed by names. A user-supplied name is data, never structure:
 * `constructor`, `toString` or `valueOf` are valid container and disk names, and
 * on a plain object `rec[name]` would answer an inherited member instead of
 * "absent". Every read of a name-keyed record goes through `own()`; the rule is
 * enforced by test/unit/core/keyed-access.test.ts.
 */

/** `rec[key]` if `rec` has it as its own property, else undefined. */
export function own<T>(rec: Readonly<Record<string, T>> | null | undefined, key: string): T | undefined {
  if (rec === null || rec === undefined) return undefined;
  return Object.getOwnPropertyDescriptor(rec, key)?.value as T | undefined;
}

/** Whether `rec` has `key` as its own property (`key in rec` sees inherited members). */
export function hasOwn(rec: object | null | undefined, key: string): boolean {
  return rec !== null && rec !== undefined && Object.hasOwn(rec, key);
}

/** A record without a prototype, for names built from untrusted keys. */
export function nullRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}
