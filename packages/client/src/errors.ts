/** Typed failures, so a caller (and authctl's exit codes) can tell refused from unreachable. */

export class AuthcacheError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export interface Attempt {
  /** base URL of the node tried */
  node: string;
  /** why it failed: the socket error, "timeout after Nms", or the 503 body's error */
  error: string;
  /** set when the node answered (503) rather than failing to connect */
  status?: number;
}

/** No node gave a usable answer: each failed to connect, timed out, or (some of them) answered 503. */
export class ConnectionError extends AuthcacheError {
  readonly attempts: Attempt[];
  constructor(attempts: Attempt[]) {
    super(`no authcache node reachable: ${attempts.map((a) => `${a.node} (${a.error})`).join('; ')}`);
    this.attempts = attempts;
  }
}

/** A node answered with a status the call does not accept. */
export class HttpError extends AuthcacheError {
  readonly status: number;
  readonly body: unknown;
  /** base URL of the node that answered */
  readonly node: string;
  constructor(status: number, body: unknown, node: string) {
    super(errorText(body) ?? `HTTP ${status} from ${node}`);
    this.status = status;
    this.body = body;
    this.node = node;
  }
}

/** 401 on login or authinfo: the username/password pair was refused. */
export class InvalidCredentialsError extends HttpError {}
/** 401 on an admin route: no (usable) credentials were sent. */
export class UnauthorizedError extends HttpError {}
export class ForbiddenError extends HttpError {}
export class NotFoundError extends HttpError {}
/** 400, 413, 415 */
export class BadRequestError extends HttpError {}
export class TooManyRequestsError extends HttpError {
  readonly retryAfterSeconds?: number;
  constructor(status: number, body: unknown, node: string, retryAfterSeconds?: number) {
    super(status, body, node);
    if (retryAfterSeconds !== undefined) this.retryAfterSeconds = retryAfterSeconds;
  }
}
export class UnavailableError extends HttpError {}

/** A node answered with a status the call accepts, but the body is not the JSON promised. */
export class InvalidResponseError extends HttpError {
  constructor(status: number, body: unknown, node: string) {
    super(status, body, node);
    this.message = `invalid JSON in HTTP ${status} answer from ${node}`;
  }
}

/** Which credentials the route takes decides what a 401 means. */
export type RouteKind = 'login' | 'admin' | 'open';

export function httpErrorFor(
  kind: RouteKind,
  status: number,
  body: unknown,
  node: string,
  retryAfter: string | null,
): HttpError {
  switch (status) {
    case 400:
    case 413:
    case 415:
      return new BadRequestError(status, body, node);
    case 401:
      return kind === 'login'
        ? new InvalidCredentialsError(status, body, node)
        : new UnauthorizedError(status, body, node);
    case 403:
      return new ForbiddenError(status, body, node);
    case 404:
      return new NotFoundError(status, body, node);
    case 429:
      return new TooManyRequestsError(status, body, node, parseRetryAfter(retryAfter));
    case 503:
      return new UnavailableError(status, body, node);
    default:
      return new HttpError(status, body, node);
  }
}

/** `{"error":"..."}` on our paths; OpenSearch's `{"error":{"type","reason"},"status"}` on its paths. */
function errorText(body: unknown): string | undefined {
  if (typeof body === 'object' && body !== null && 'error' in body) {
    const e = (body as { error: unknown }).error;
    if (typeof e === 'string' && e.length > 0) return e;
    if (typeof e === 'object' && e !== null) {
      const { type, reason } = e as { type?: unknown; reason?: unknown };
      if (typeof reason === 'string' && reason.length > 0) return typeof type === 'string' ? `${type}: ${reason}` : reason;
    }
  }
  return undefined;
}

/** Retry-After is delay-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}
