import type { Logger } from 'pino';

/** An error the HTTP layer turns into `{"error": message}` with `status`. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export const badRequest = (m: string) => new HttpError(400, m);
export const notFound = (m: string) => new HttpError(404, m);
export const unavailable = (m: string) => new HttpError(503, m);

/**
 * Runs backend I/O (Redis) for a request: a failure there becomes a 503 with `message` and a log
 * line; an HttpError raised on purpose (400, 404) passes through unchanged.
 */
export async function orUnavailable<T>(log: Logger, message: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof HttpError) throw err;
    log.warn({ err: (err as Error).message }, message);
    throw unavailable(message);
  }
}
