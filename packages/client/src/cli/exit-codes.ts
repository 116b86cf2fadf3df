/** authctl exit codes (the README's authctl section) and which failure maps to which. */

import { CommanderError } from 'commander';
import { ConnectionError, UnavailableError } from '../errors';

export const EXIT = {
  /** done, on every node it had to reach */
  OK: 0,
  /** refused: 401/403, a rejected login, any other error answer, or partial propagation */
  REFUSED: 1,
  /** the command line itself is wrong */
  USAGE: 2,
  /** no answer from the node, or it answered 503 (starting, or out of sync with the cluster) */
  UNREACHABLE: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Wrong command line that commander cannot see: conflicting flags, nothing to change, a bad -h. */
export class UsageError extends Error {}

/** The operation was refused on our side before or instead of a call (e.g. the role already exists). */
export class RefusedError extends Error {}

/** Ctrl-C at a password prompt. */
export class InterruptedError extends Error {
  constructor() {
    super('interrupted');
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  if (err instanceof UsageError) return EXIT.USAGE;
  if (err instanceof ConnectionError || err instanceof UnavailableError) return EXIT.UNREACHABLE;
  if (err instanceof InterruptedError) return 130;
  // HttpError, RefusedError, and anything unexpected: it did not get done.
  return EXIT.REFUSED;
}
