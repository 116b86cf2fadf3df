/** Which node authctl talks to, from -h/--host and -p/--port as nodetool takes them. */

import { UsageError } from './exit-codes';

/**
 * 'host:port' (or a base URL) for the SDK. -h also takes host:port, so that the address column of
 * `authctl status` can be passed back as it is (`authctl -h $node ...`, as the Cassandra runbooks do).
 */
export function targetAddress(host: string, port: number, portGiven: boolean): string {
  const h = host.trim();
  if (h === '') throw new UsageError('-h/--host must not be empty');

  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(h)) {
    let url: URL;
    try {
      url = new URL(h);
    } catch {
      throw new UsageError(`-h/--host: invalid URL ${h}`);
    }
    if (portGiven) {
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
    if (portGiven && p !== port) throw conflict(inline, port);
    return `${name}:${p}`;
  }
  return `${name}:${port}`;
}

function conflict(inHost: string, port: number): UsageError {
  return new UsageError(`-h/--host names port ${inHost} but -p/--port says ${port}; give the port once`);
}
