/** The host agent's errors: every one carries the container (and host) it concerns. */
import { ScError } from '../core/errors.ts';

/** A path that would leave its cgroup directory, or a name that is not a valid container name. */
export class UnsafePathError extends ScError {
  override name = 'UnsafePathError';
}

/** The container is not on this host (no LXC config or no cgroup directory). */
export class UnknownContainerError extends ScError {
  override name = 'UnknownContainerError';
}

/** A value outside what this host or the kernel can take (negative, beyond the host). */
export class AbsurdValueError extends ScError {
  override name = 'AbsurdValueError';
}

/** A cgroup or tc write failed, or read back differently. */
export class CgroupWriteError extends ScError {
  override name = 'CgroupWriteError';
  readonly code: string;
  constructor(message: string, code: string, options: ConstructorParameters<typeof ScError>[1] = {}) {
    super(message, options);
    this.code = code;
  }
}

/** Errors worth a backoff and a retry: network trouble, throttling, credentials, 5xx. */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const name = err.name;
  const code = (err as { code?: string }).code ?? '';
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return true;
  if (
    /Timeout|Throttl|TooManyRequests|Network|ECONN|EPIPE|ENOTFOUND|EAI_AGAIN|Credentials|ExpiredToken|RequestLimitExceeded|ProvisionedThroughputExceeded|ServiceUnavailable|InternalServerError|TimeoutError/i.test(
      `${name} ${code} ${err.message}`,
    )
  )
    return true;
  return status === undefined && !(err instanceof ScError);
}
