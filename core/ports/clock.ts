/** Time, injected: the pure policy never reads the clock, use cases get it from here. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}
