/**
 * What the HTTP API accepts, enforced by the node's schemas and checked by the CLI before a call
 * (a clear usage error instead of a 400 after a password prompt): one place for both.
 */
import { MAX_FRAME_BYTES, MAX_ORIGIN_LENGTH, MAX_USERNAME_LENGTH } from './messages';
import { AUTHZ_LIMITS } from './authz-api';

/** Size and time limits of requests and their fields. */
export const LIMITS = Object.freeze({
  /** a node id (AUTHCACHE_NODE_ID): as long as a bus message's origin may be */
  nodeId: MAX_ORIGIN_LENGTH,
  /** a username; also a role name, since a user is a role that may log in (as in Cassandra) */
  username: MAX_USERNAME_LENGTH,
  /** a password, in characters: bounds the bcrypt input a client can make a node hash */
  password: 1024,
  /** entries of `roles`, `grant` or `revoke` in one `PUT /v1/roles/{name}` */
  rolesPerChange: 1000,
  /** an HTTP request body, in bytes (the node's fastify bodyLimit; the same bound as a bus frame) */
  bodyBytes: MAX_FRAME_BYTES,
  /** the time a client has to send one whole request, headers and body, in ms (then: 408, connection closed) */
  requestMs: 10_000,
  /** resource paths, permission names, batch size: docs/architecture.md, "Permissions and impersonation" (authz-api.ts) */
  ...AUTHZ_LIMITS,
});

/**
 * A user or role name as the API accepts it where it names one to change, flush or check: no
 * control characters. The caches join names with NUL into one key (docs/architecture.md,
 * "Permissions and impersonation"), so `bob\u0000admin` would read as two names, and a newline
 * would split a log line. A JSON-schema `pattern` (ajv, `u` flag) and a RegExp source alike.
 */
export const NAME_PATTERN = '^[^\\u0000-\\u001f\\u007f]*$';
const NAME_RE = new RegExp(NAME_PATTERN, 'u');

/** What a name must be, for error messages. */
export const NAME_RULE = `1..${LIMITS.username} characters, none of them a control character`;

/** A name's JSON schema, as the node's routes validate it. */
export const NAME_SCHEMA = { type: 'string', minLength: 1, maxLength: LIMITS.username, pattern: NAME_PATTERN } as const;

/** Whether `name` is a name the API accepts: a string of NAME_RULE. */
export function isValidName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= LIMITS.username && NAME_RE.test(name);
}
