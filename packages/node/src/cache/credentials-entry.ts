import type { Timed } from './bounded-cache';
import type { StoredCredentials } from '../roles/role-store';

/**
 * What the credentials cache holds per role, and the two rules about its verifier: when a reload
 * may keep it, and how it is compared. Kept apart from AuthCache so the rules read on their own.
 */
export interface CredentialsEntry extends Timed, StoredCredentials {
  /** Keyed digest of the last password that passed bcrypt against `hash`; the password itself is never kept. */
  verifier?: string;
}

/**
 * A reload of credentials keeps the held verifier only while it still proves what it proved: the
 * hash is the one the password passed bcrypt against, and the role may still log in. One that
 * lost its login (a change made outside our API, seen by refresh or active update) starts without
 * a verifier, so no later path can accept the old password from it; nor can a re-enabled one
 * until bcrypt has checked it again.
 */
export function reloadedCredentials(held: StoredCredentials & Timed, fresh: StoredCredentials & Timed): StoredCredentials & Timed {
  const verifier = (held as CredentialsEntry).verifier;
  if (verifier === undefined || !fresh.canLogin || fresh.hash === undefined || fresh.hash !== held.hash) return fresh;
  return { ...fresh, verifier } as CredentialsEntry;
}

/** Constant-time comparison of two verifiers (base64 digests, always the same length). */
export function sameVerifier(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
