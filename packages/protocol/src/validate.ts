/**
 * The field readers every validator of this package is made of: each checks one value at a path
 * and throws an `Invalid` that `run` turns into a `Validation`. Kept apart from the message types
 * so those read as the contract they are.
 */

export type Validation<T> = { ok: true; value: T } | { ok: false; error: string };

/** Thrown inside the validators only; turned into { ok: false } at their boundary. */
class Invalid extends Error {}

export function fail(path: string, message: string): never {
  throw new Invalid(`${path}: ${message}`);
}

export function run<T>(check: () => T): Validation<T> {
  try {
    return { ok: true, value: check() };
  } catch (e) {
    if (e instanceof Invalid) return { ok: false, error: e.message };
    throw e;
  }
}

export const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** Plain objects only: class instances, arrays, Maps, Dates, Errors decoded by msgpackr are all refused. */
export function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const proto: unknown = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

function showKey(k: string): string {
  const s = JSON.stringify(k);
  return s.length > 66 ? `${s.slice(0, 64)}…"` : s;
}

/**
 * Checks the object and its keys; returns a reader of own properties so that an inherited
 * property (a polluted Object.prototype) is never taken for a field.
 */
export function objectAt(x: unknown, path: string, allowed: ReadonlySet<string>): (k: string) => unknown {
  if (!isPlainObject(x)) fail(path, 'must be an object');
  for (const k of Object.keys(x)) {
    if (!allowed.has(k)) fail(path, `unknown field ${showKey(k)}`);
  }
  return (k) => (hasOwn(x, k) ? x[k] : undefined);
}

export const join = (path: string, k: string): string => (path ? `${path}.${k}` : k);

/** Lone surrogates would be replaced on the wire, so the receiver would see another string. */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function stringAt(x: unknown, path: string, min: number, max: number): string {
  if (typeof x !== 'string' || x.length < min || x.length > max) {
    fail(path, `must be a string of ${min}..${max} characters`);
  }
  if (LONE_SURROGATE.test(x)) fail(path, 'must be well-formed Unicode (lone surrogate)');
  return x;
}

export function intAt(x: unknown, path: string, min: number, max: number): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) {
    fail(path, `must be an integer in ${min}..${max}`);
  }
  return x + 0; // -0 would not survive a round trip through msgpack
}

export function boolAt(x: unknown, path: string): boolean {
  if (typeof x !== 'boolean') fail(path, 'must be a boolean');
  return x;
}
