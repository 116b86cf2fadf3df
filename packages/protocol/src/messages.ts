/**
 * Bus messages — ConfigUpdates and the acks that answer them — their types and the runtime
 * schema check applied to everything that arrives from outside (decoded frames, HTTP bodies).
 * Validators build fresh objects from the known fields only, so a validated value never carries
 * foreign keys or prototypes. An ack is its own message type, not an update kind: see
 * docs/architecture.md ("Acks").
 */

export const PROTOCOL_VERSION = 1;
export const MAX_FRAME_BYTES = 64 * 1024;

/** The login path's caches (credentials, roles: AuthCache) and the authorization layer's (docs/architecture.md, "Permissions and impersonation"). */
export type LoginCacheName = 'credentials' | 'roles';
export type AuthzCacheName = 'permissions' | 'impersonation';
export type CacheName = LoginCacheName | AuthzCacheName;
export const LOGIN_CACHE_NAMES: readonly LoginCacheName[] = Object.freeze(['credentials', 'roles'] as const);
export const AUTHZ_CACHE_NAMES: readonly AuthzCacheName[] = Object.freeze(['permissions', 'impersonation'] as const);
/** Every cache a flush, a setting or a metric may name, in this order. */
export const CACHE_NAMES: readonly CacheName[] = Object.freeze([...LOGIN_CACHE_NAMES, ...AUTHZ_CACHE_NAMES]);

export function isCacheName(x: unknown): x is CacheName {
  return typeof x === 'string' && (CACHE_NAMES as readonly string[]).includes(x);
}

export type SettingsScope = 'all' | CacheName;
export const SETTINGS_SCOPES: readonly SettingsScope[] = Object.freeze(['all', ...CACHE_NAMES]);

/** One year: longer validities are configuration mistakes, not intentions. */
export const MAX_TTL_MS = 31_536_000_000;
export const MAX_REFRESH_MS = MAX_TTL_MS;
export const MAX_MAX_ENTRIES = 100_000_000;
export const MAX_USERNAMES = 10_000;
export const MAX_USERNAME_LENGTH = 256;
export const MAX_ID_LENGTH = 128;
export const MAX_ORIGIN_LENGTH = 256;

export interface SettingsValues {
  ttl_ms?: number;
  max_entries?: number;
  refresh_ms?: number;
  active_update?: boolean;
}
export interface FlushAllBody {
  caches?: CacheName[];
}
export interface FlushUsersBody {
  usernames: string[];
  caches?: CacheName[];
}
export type SettingsKey = keyof SettingsValues;
/** One layer's change for one scope: values set, and keys reset (the layer below shows through). */
export interface LayerSettingsChange {
  scope: SettingsScope;
  /** may be empty only when `reset` names a key */
  values: SettingsValues;
  persistent: boolean;
  reset?: SettingsKey[];
}
/** Several changes (e.g. both layers of one PUT /_cluster/settings) travel as one update: this one, then `more`, in order. */
export interface SetSettingsBody extends LayerSettingsChange {
  more?: LayerSettingsChange[];
}
/**
 * Changes in one set_settings update, `more` included: a PUT /_cluster/settings resetting `*` in
 * both layers makes one per scope per layer (2 × 5 since the caches of docs/architecture.md, "Permissions and impersonation" joined).
 */
export const MAX_SETTINGS_CHANGES = 16;
export interface BodyByKind {
  flush_all: FlushAllBody;
  flush_users: FlushUsersBody;
  set_settings: SetSettingsBody;
}
export type Kind = keyof BodyByKind;
export const KINDS: readonly Kind[] = Object.freeze(['flush_all', 'flush_users', 'set_settings'] as const);

/** A member's answer to one update, sent to the update's origin only. */
export interface Ack {
  update_id: string;
  node: string;
  ok: boolean;
  error?: string;
}
/** An ack as decoded: with the protocol version it was signed under. */
export interface AckMessage extends Ack {
  v: number;
}

/** The update of one kind, as the rest of the code sees it. */
export interface UpdateOf<K extends Kind> {
  v: number;
  id: string;
  seq: number;
  origin: string;
  ts: number;
  kind: K;
  body: BodyByKind[K];
}
export type ConfigUpdate = { [K in Kind]: UpdateOf<K> }[Kind];
/** What a publisher hands to the codec: the version is the codec's, the seq is Redis's. */
export type UnsignedUpdateOf<K extends Kind> = Omit<UpdateOf<K>, 'seq' | 'v'>;
export type UnsignedUpdate = { [K in Kind]: UnsignedUpdateOf<K> }[Kind];

import { type Validation, LONE_SURROGATE, boolAt, fail, hasOwn, intAt, join, objectAt, run, stringAt } from './validate';

export type { Validation } from './validate';

function cachesAt(x: unknown, path: string): CacheName[] {
  if (!Array.isArray(x) || x.length === 0) fail(path, `must be a non-empty array of ${CACHE_NAMES.join(', ')}`);
  const out: CacheName[] = [];
  for (let i = 0; i < x.length; i++) {
    const c: unknown = x[i];
    if (!isCacheName(c)) fail(`${path}[${i}]`, `must be one of ${CACHE_NAMES.join(', ')}`);
    if (out.includes(c)) fail(`${path}[${i}]`, `duplicate cache ${c}`);
    out.push(c);
  }
  return out;
}

const SETTINGS_KEYS: ReadonlySet<string> = new Set(['ttl_ms', 'max_entries', 'refresh_ms', 'active_update']);

function settingsAt(x: unknown, path: string, allowEmpty = false): SettingsValues {
  const get = objectAt(x, path || 'settings', SETTINGS_KEYS);
  const out: SettingsValues = {};
  const ttl = get('ttl_ms');
  if (ttl !== undefined) out.ttl_ms = intAt(ttl, join(path, 'ttl_ms'), 0, MAX_TTL_MS);
  const max = get('max_entries');
  if (max !== undefined) out.max_entries = intAt(max, join(path, 'max_entries'), 1, MAX_MAX_ENTRIES);
  const refresh = get('refresh_ms');
  if (refresh !== undefined) out.refresh_ms = intAt(refresh, join(path, 'refresh_ms'), 0, MAX_REFRESH_MS);
  const active = get('active_update');
  if (active !== undefined) out.active_update = boolAt(active, join(path, 'active_update'));
  if (Object.keys(out).length === 0 && !allowEmpty) fail(path || 'settings', `must set at least one of ${[...SETTINGS_KEYS].join(', ')}`);
  return out;
}

function resetAt(x: unknown, path: string): SettingsKey[] {
  if (!Array.isArray(x) || x.length === 0 || x.length > SETTINGS_KEYS.size) fail(path, `must be a non-empty array of ${[...SETTINGS_KEYS].join(', ')}`);
  const out: SettingsKey[] = [];
  for (let i = 0; i < x.length; i++) {
    const k: unknown = x[i];
    if (typeof k !== 'string' || !SETTINGS_KEYS.has(k)) fail(`${path}[${i}]`, `must be one of ${[...SETTINGS_KEYS].join(', ')}`);
    if (out.includes(k as SettingsKey)) fail(`${path}[${i}]`, `duplicate key ${k}`);
    out.push(k as SettingsKey);
  }
  return out;
}

function changeAt(x: unknown, path: string, keys: ReadonlySet<string>): { change: LayerSettingsChange; get: (k: string) => unknown } {
  const get = objectAt(x, path, keys);
  const scope = get('scope');
  if (scope !== 'all' && !isCacheName(scope)) {
    fail(join(path, 'scope'), `must be one of ${SETTINGS_SCOPES.join(', ')}`);
  }
  const rawReset = get('reset');
  const reset = rawReset === undefined ? undefined : resetAt(rawReset, join(path, 'reset'));
  const change: LayerSettingsChange = {
    scope,
    values: settingsAt(get('values'), join(path, 'values'), reset !== undefined),
    persistent: boolAt(get('persistent'), join(path, 'persistent')),
  };
  if (reset) change.reset = reset;
  return { change, get };
}

/**
 * Settings values as sent by an admin (also used by the HTTP layer). Errors name the bad field,
 * e.g. "ttl_ms: must be an integer in 0..31536000000". A key whose value is undefined counts as absent.
 */
export function validateSettingsValues(x: unknown): Validation<SettingsValues> {
  return run(() => settingsAt(x, ''));
}

const FLUSH_ALL_KEYS: ReadonlySet<string> = new Set(['caches']);
const FLUSH_USERS_KEYS: ReadonlySet<string> = new Set(['usernames', 'caches']);
const CHANGE_KEYS: ReadonlySet<string> = new Set(['scope', 'values', 'persistent', 'reset']);
const SET_SETTINGS_KEYS: ReadonlySet<string> = new Set([...CHANGE_KEYS, 'more']);
const ACK_KEYS: ReadonlySet<string> = new Set(['v', 'update_id', 'node', 'ok', 'error']);

function usernamesAt(x: unknown, path: string): string[] {
  if (!Array.isArray(x) || x.length < 1 || x.length > MAX_USERNAMES) {
    fail(path, `must be an array of 1..${MAX_USERNAMES} usernames`);
  }
  const out: string[] = new Array<string>(x.length);
  for (let i = 0; i < x.length; i++) out[i] = stringAt(x[i], `${path}[${i}]`, 1, MAX_USERNAME_LENGTH);
  return out;
}

type BodyParsers = { [K in Kind]: (x: unknown, path: string) => BodyByKind[K] };

const BODY_PARSERS: BodyParsers = {
  flush_all(x, path) {
    const get = objectAt(x, path, FLUSH_ALL_KEYS);
    const out: FlushAllBody = {};
    const caches = get('caches');
    if (caches !== undefined) out.caches = cachesAt(caches, join(path, 'caches'));
    return out;
  },
  flush_users(x, path) {
    const get = objectAt(x, path, FLUSH_USERS_KEYS);
    const out: FlushUsersBody = { usernames: usernamesAt(get('usernames'), join(path, 'usernames')) };
    const caches = get('caches');
    if (caches !== undefined) out.caches = cachesAt(caches, join(path, 'caches'));
    return out;
  },
  set_settings(x, path) {
    const { change, get } = changeAt(x, path, SET_SETTINGS_KEYS);
    const out: SetSettingsBody = change;
    const more = get('more');
    if (more !== undefined) {
      const at = join(path, 'more');
      if (!Array.isArray(more) || more.length === 0 || more.length >= MAX_SETTINGS_CHANGES) fail(at, `must be an array of 1..${MAX_SETTINGS_CHANGES - 1} changes`);
      out.more = more.map((m: unknown, i) => changeAt(m, `${at}[${i}]`, CHANGE_KEYS).change);
    }
    return out;
  },
};

const UPDATE_KEYS: ReadonlySet<string> = new Set(['v', 'id', 'seq', 'origin', 'ts', 'kind', 'body']);
const ENVELOPE_KEYS: ReadonlySet<string> = new Set(['v', 'id', 'origin', 'ts', 'kind', 'body']);

/**
 * The shared check of an update. With `seq` given, `x` is a signed envelope, which must not
 * carry a seq of its own: the seq lives outside the signature, in the frame header.
 */
function parseUpdate(x: unknown, seq?: number): ConfigUpdate {
  const get = objectAt(x, 'update', seq === undefined ? UPDATE_KEYS : ENVELOPE_KEYS);
  const v = get('v');
  if (v !== PROTOCOL_VERSION) fail('v', `must be ${PROTOCOL_VERSION}`);
  const id = stringAt(get('id'), 'id', 1, MAX_ID_LENGTH);
  const s = seq ?? get('seq');
  if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0) fail('seq', 'must be a safe integer >= 0');
  const origin = stringAt(get('origin'), 'origin', 1, MAX_ORIGIN_LENGTH);
  const ts = get('ts');
  if (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0) fail('ts', 'must be a finite number >= 0');
  const kind = get('kind');
  if (typeof kind !== 'string' || !hasOwn(BODY_PARSERS, kind)) {
    fail('kind', `must be one of ${KINDS.join(', ')}`);
  }
  const body = BODY_PARSERS[kind as Kind](get('body'), 'body');
  return { v, id, seq: s + 0, origin, ts: ts + 0, kind, body } as ConfigUpdate;
}

/** Full schema check of an update (a decoded envelope with its seq). */
export function validateUpdate(x: unknown): Validation<ConfigUpdate> {
  return run(() => parseUpdate(x));
}

/** The check of a signed envelope, whose seq comes from the frame header. */
export function validateEnvelope(x: unknown, seq: number): Validation<ConfigUpdate> {
  return run(() => parseUpdate(x, seq));
}

/** Whether a string can be sent as a username (what validateUpdate demands of each one). */
export function isValidUsername(s: unknown): s is string {
  return typeof s === 'string' && s.length >= 1 && s.length <= MAX_USERNAME_LENGTH && !LONE_SURROGATE.test(s);
}

function parseAck(x: unknown): AckMessage {
  const get = objectAt(x, 'ack', ACK_KEYS);
  const v = get('v');
  if (v !== PROTOCOL_VERSION) fail('v', `must be ${PROTOCOL_VERSION}`);
  const out: AckMessage = {
    v,
    update_id: stringAt(get('update_id'), 'update_id', 1, MAX_ID_LENGTH),
    node: stringAt(get('node'), 'node', 1, MAX_ORIGIN_LENGTH),
    ok: boolAt(get('ok'), 'ok'),
  };
  const error = get('error');
  // The frame size already bounds the error text; a long exception message must not make the ack unsendable.
  if (error !== undefined) out.error = stringAt(error, 'error', 0, MAX_FRAME_BYTES);
  return out;
}

/** Full schema check of a decoded ack. */
export function validateAck(x: unknown): Validation<AckMessage> {
  return run(() => parseAck(x));
}
