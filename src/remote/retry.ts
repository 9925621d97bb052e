import { classifyRemoteError, RemoteService } from './remote-error';

/** Most a call waits in real time for a Retry-After before giving the error back to its step machine (ms). */
export const INLINE_RETRY_MAX_MS = 10_000;

/**
 * Runs `call`, honouring a short Retry-After inline (for clients with no retry of their own: our OData
 * calls): a `throttled` error (Retry-After, else 1 s) or a `transient` one that names a Retry-After is
 * tried again after that wait when it is at most INLINE_RETRY_MAX_MS (real time: the server's throttle
 * runs in real time), at most `attempts` calls in all. Everything else, and longer waits, is thrown
 * classified (RemoteError), for the caller's own backoff (isRetryable, retryAfterMs).
 * @param service the remote, for errors that are not classified yet.
 */
export async function withRetryAfter<T>(service: RemoteService, call: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await call();
    } catch (err) {
      const e = classifyRemoteError(err, service);
      const wait = e.kind === 'throttled' ? (e.retryAfterMs ?? 1000) : e.kind === 'transient' ? e.retryAfterMs : undefined;
      if (wait === undefined || wait > INLINE_RETRY_MAX_MS || i >= attempts) throw e;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
