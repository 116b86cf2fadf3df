import type { Logger } from 'pino';
import type { NotDurableBody } from '@authcache/protocol';
import { TransportError } from './bus/transport';
import { NotDurableError, notDurableMessage } from './bus/durability';

/** An error the HTTP layer turns into `{"error": message, ...fields}` with `status`. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly fields?: Record<string, unknown>) {
    super(message);
  }
}

export const badRequest = (m: string) => new HttpError(400, m);
export const notFound = (m: string) => new HttpError(404, m);
export const conflict = (m: string) => new HttpError(409, m);
export const unavailable = (m: string) => new HttpError(503, m);

/**
 * The answer when a change was sent but no reply came: it may have been applied, and then it was
 * also published (change and invalidation are one atomic step). Never "not applied"
 * (docs/architecture.md, "Atomic change and invalidation").
 */
export const outcomeUnknown = (m: string) => new HttpError(504, `outcome unknown: the change may have been applied; ${m}`);

/** Published, and applied by the nodes, but not confirmed by enough Redis replicas: the 504 says so, with what happened (api.ts NotDurableBody). */
export function notDurable(e: NotDurableError): HttpError {
  const p = e.propagation ?? { seq: e.seq, nodes: { total: 0, successful: 0, failed: 0 }, failures: [], members: [] };
  const { error, ...fields }: NotDurableBody = { error: notDurableMessage(e), replicated: e.replicated, required: e.required, ...p, seq: e.seq };
  return new HttpError(504, error, fields);
}

const UNKNOWN_HINT = 'the store did not answer in time: read the state back (GET /v1/cluster/nodes shows applied_seq) before repeating the call';

/**
 * Runs backend I/O (Redis) for a request. A transport failure says what it knows: never sent →
 * 503 with `message`; sent without an answer → 504 outcome unknown; a guard that did not hold →
 * 409. Any other failure there becomes a 503 with `message` and a log line; an HttpError raised on
 * purpose (400, 404) passes through unchanged.
 */
export async function orUnavailable<T>(log: Logger, message: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof HttpError) throw err;
    if (err instanceof NotDurableError) {
      log.warn({ seq: err.seq, replicated: err.replicated, required: err.required }, 'update not confirmed by enough replicas: answering 504');
      throw notDurable(err);
    }
    if (err instanceof TransportError && err.failure === 'unknown') {
      log.warn({ err: err.message }, 'outcome unknown: the change may have been applied');
      throw outcomeUnknown(UNKNOWN_HINT);
    }
    if (err instanceof TransportError && err.failure === 'guard') {
      log.info({ key: err.guardKey }, 'a concurrent change won: nothing written');
      throw conflict(`a concurrent change got there first (${err.guardKey ?? 'guard'}): nothing was written; repeat the call`);
    }
    log.warn({ err: (err as Error).message }, message);
    throw unavailable(message);
  }
}
