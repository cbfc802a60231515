/**
 * Run `fn` over `items` with at most `limit` in flight; results in input order.
 *
 * Every item runs, even after one fails, and the promise settles only when all
 * have settled; it then rejects with the first failure (the earliest to fail).
 * Callers rely on both halves: the Scaler and the Guardian commit and dispatch
 * per host, so one host's failure must not leave the others undone, and no
 * work may still be running once the call has returned or thrown.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failure: { err: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i] as T, i);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== null) throw (failure as { err: unknown }).err;
  return out;
}
