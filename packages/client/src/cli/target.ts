/**
 * Which node authctl talks to: -h/--host and -p/--port as nodetool takes them, with their defaults
 * from $AUTHCACHE_URL. authctl reads AUTHCACHE_URL and not AUTHCACHE_HOST/AUTHCACHE_PORT, because
 * those two are a node's own listen address: a shell (or container) that runs a node must not
 * silently redirect the authctl run next to it.
 */

import { redactUrl } from '@authcache/protocol';
import { UsageError } from './exit-codes';

/** What -h and -p default to: $AUTHCACHE_URL's parts, else http://127.0.0.1:7070. */
export interface TargetDefaults {
  scheme: 'http:' | 'https:';
  host: string;
  port: number;
  /** base path of a node behind a reverse proxy ('' for none); kept only while -h is not given */
  path: string;
  /** where the defaults came from, for error messages */
  source: string;
}

export const BUILTIN_DEFAULTS: TargetDefaults = { scheme: 'http:', host: '127.0.0.1', port: 7070, path: '', source: 'the defaults' };

const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** The value as an error may echo it: with user info, which may hold a password, redacted. */
const shown = (v: string): string => (v.includes('@') ? redactUrl(v) : v);

/** $AUTHCACHE_URL: `http(s)://host[:port][/base]`, or `host:port` (http). Unset or empty: the built-in defaults. */
export function defaultsFromEnv(value: string | undefined): TargetDefaults {
  const v = value?.trim() ?? '';
  if (v === '') return BUILTIN_DEFAULTS;
  if (v.includes(',')) throw new UsageError(`AUTHCACHE_URL names one node (authctl talks to one node), got a list: ${shown(v)}`);
  let url: URL;
  try {
    url = new URL(HAS_SCHEME.test(v) ? v : `http://${v}`);
  } catch {
    throw new UsageError(`AUTHCACHE_URL is not a URL: ${shown(v)} (expected e.g. http://127.0.0.1:7001)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`AUTHCACHE_URL: unsupported scheme ${url.protocol} (http or https)`);
  if (url.username !== '' || url.password !== '') throw new UsageError('AUTHCACHE_URL must not hold credentials; use AUTHCACHE_ADMIN_TOKEN');
  const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : HAS_SCHEME.test(v) ? 80 : BUILTIN_DEFAULTS.port;
  return { scheme: url.protocol, host: url.hostname, port, path: url.pathname.replace(/\/+$/, ''), source: 'AUTHCACHE_URL' };
}

/**
 * 'host:port' (or a base URL) for the SDK. -h also takes host:port, so that the address column of
 * `authctl status` can be passed back as it is (`authctl -h $node ...`, as the Cassandra runbooks do),
 * and a URL. A -h without a scheme keeps the defaults' scheme, so the loop also works over https.
 * Flags override the environment: -h replaces the host (and port, when it names one), -p the port.
 */
export function targetAddress(host: string | undefined, port: number | undefined, d: TargetDefaults = BUILTIN_DEFAULTS): string {
  // d.host is as URL.hostname gives it: an IPv6 address already in brackets.
  if (host === undefined) return format(d.scheme, d.host, port ?? d.port, d.path);
  const h = host.trim();
  if (h === '') throw new UsageError('-h/--host must not be empty');

  if (HAS_SCHEME.test(h)) {
    let url: URL;
    try {
      url = new URL(h);
    } catch {
      throw new UsageError(`-h/--host: invalid URL ${h}`);
    }
    if (port !== undefined) {
      if (url.port !== '' && url.port !== String(port)) throw conflict(url.port, port);
      url.port = String(port);
    }
    return url.toString().replace(/\/+$/, '');
  }

  let name = h;
  let inline: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(h);
  if (bracketed) {
    name = `[${bracketed[1]!}]`;
    inline = bracketed[2];
  } else if (h.includes('[') || h.includes(']')) {
    throw new UsageError(`-h/--host: invalid address ${h}`);
  } else if ((h.match(/:/g) ?? []).length === 1) {
    const [n, p] = h.split(':') as [string, string];
    if (n === '' || !/^\d+$/.test(p)) throw new UsageError(`-h/--host: invalid address ${h}; expected host or host:port`);
    name = n;
    inline = p;
  } else if (h.includes(':')) {
    // A bare IPv6 address: its colons are not a port separator.
    name = `[${h}]`;
  }

  if (inline !== undefined) {
    const p = Number(inline);
    if (p < 1 || p > 65535) throw new UsageError(`-h/--host: port ${inline} out of range`);
    if (port !== undefined && p !== port) throw conflict(inline, port);
    return format(d.scheme, name, p, '');
  }
  return format(d.scheme, name, port ?? d.port, '');
}

/** Plain http without a base path stays 'host:port', the form nodetool users read in messages. */
function format(scheme: 'http:' | 'https:', name: string, port: number, path: string): string {
  return scheme === 'http:' && path === '' ? `${name}:${port}` : `${scheme}//${name}:${port}${path}`;
}

function conflict(inHost: string, port: number): UsageError {
  return new UsageError(`-h/--host names port ${inHost} but -p/--port says ${port}; give the port once`);
}
