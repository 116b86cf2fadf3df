import type { AuthcacheNode } from '../node';
import type { LoginOutcome } from '../cache/auth-cache';
import { HttpError } from '../errors';

/** Refused by the failed-login throttle; the route answers 429 with Retry-After. */
export class ThrottledError extends HttpError {
  constructor(readonly retryAfterSeconds: number) {
    super(429, 'too many failed logins: try again later');
  }
}

/**
 * A login check behind the failed-login throttle: every path that takes a password (login,
 * authinfo, Basic admin credentials) goes through here, so none of them is an unthrottled oracle.
 *
 * The attempt is admitted and, if it goes on asynchronously (to bcrypt or the backend), holds its
 * throttle slot in the same synchronous turn as the admission: no other request can run in
 * between, so N attempts in flight can never all see the same free slot.
 */
export function authenticate(node: AuthcacheNode, username: string, password: string, address: string): LoginOutcome | Promise<LoginOutcome> {
  const throttle = node.throttle;
  if (!throttle.enabled) return node.login(username, password);
  const admission = throttle.begin(username, address, password);
  if (!admission.admitted) {
    node.metrics.loginThrottled.inc();
    throw new ThrottledError(Math.ceil(admission.retryAfterMs / 1000));
  }
  const { attempt } = admission;
  let r: LoginOutcome | Promise<LoginOutcome>;
  try {
    r = node.login(username, password);
  } catch (err) {
    attempt.end(undefined);
    throw err;
  }
  if (!(r instanceof Promise)) {
    attempt.end(r.ok);
    return r;
  }
  attempt.hold();
  return r.then(
    (o) => {
      attempt.end(o.ok);
      return o;
    },
    (err: unknown) => {
      // No answer (backend unreachable) is no guess checked: the slot is freed, no failure counted.
      attempt.end(undefined);
      throw err;
    },
  );
}
