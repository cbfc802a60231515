/** What the local starters share: the emulators' credentials and the list of things to stop. */

export const LOCAL = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
};

/** Stopped in reverse order when the loop stops. */
export type Stops = { what: string; stop: () => Promise<void> }[];

/**
 * Stop everything pushed on `stops`, newest first, once (later calls get the same promise), then
 * `andThen`; a part that fails to stop does not keep the others running: all are tried, then the
 * failures are thrown together.
 */
export function stopInReverse(stops: Stops, andThen: () => Promise<void>): () => Promise<void> {
  let stopping: Promise<void> | null = null;
  return () => {
    stopping ??= (async () => {
      const errors: string[] = [];
      for (const s of stops.reverse()) {
        try {
          await s.stop();
        } catch (err) {
          errors.push(`${s.what}: ${(err as Error).message}`);
        }
      }
      await andThen();
      if (errors.length > 0) throw new Error(`some parts did not stop cleanly: ${errors.join('; ')}`);
    })();
    return stopping;
  };
}
