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
 */
export function authenticate(node: AuthcacheNode, username: string, password: string, address: string): LoginOutcome | Promise<LoginOutcome> {
  const throttle = node.throttle;
  if (!throttle.enabled) return node.login(username, password);
  const wait = throttle.retryAfterMs(username, address);
  if (wait > 0) {
    node.metrics.loginThrottled.inc();
    throw new ThrottledError(Math.ceil(wait / 1000));
  }
  const record = (r: LoginOutcome): LoginOutcome => {
    if (r.ok) throttle.succeeded(username);
    else throttle.failed(username, address);
    return r;
  };
  const r = node.login(username, password);
  return r instanceof Promise ? r.then(record) : record(r);
}
