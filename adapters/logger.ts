/**
 * Structured JSON logs (pino) for every deployable. One line per event, with
 * the component name; LOG_LEVEL selects the level (default info).
 */
import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * Fields every line carries while they are set: a Lambda invocation's ids, set and cleared by
 * functions/handlers/middleware.ts (one invocation at a time per process, so one holder suffices).
 */
export const invocationContext: { fields: Record<string, unknown> } = { fields: {} };

export function createLogger(
  component: string,
  opts: { level?: string; destination?: NodeJS.WritableStream } = {},
): Logger {
  const level = opts.level ?? (process.env.LOG_LEVEL || 'info');
  return pino(
    {
      name: component,
      level,
      base: { component },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin: () => invocationContext.fields,
    },
    (opts.destination ?? process.stdout) as pino.DestinationStream,
  );
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = pino({ level: 'silent' });
