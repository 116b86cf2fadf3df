/** Parsing of the node list given to the client. */

/** Port a node listens on when the address names none (the README's Configuration AUTHCACHE_PORT default). */
export const DEFAULT_PORT = 7070;

/**
 * 'host:port', 'host' or a base URL -> canonical base URL without trailing slash, which is also
 * how errors name the node. A base path is kept, for nodes behind a reverse proxy.
 */
export function normalizeNode(address: string): string {
  const trimmed = address.trim();
  if (trimmed === '') throw new TypeError('empty node address');
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed);
  let url: URL;
  try {
    url = new URL(hasScheme ? trimmed : `http://${trimmed}`);
  } catch {
    throw new TypeError(`invalid node address: ${trimmed}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`unsupported scheme in node address: ${url.protocol}`);
  }
  // The message does not echo the address: it holds a secret.
  if (url.username !== '' || url.password !== '') {
    throw new TypeError('credentials in a node address are not supported; use the token option');
  }
  if (url.search !== '' || url.hash !== '') {
    // The query may carry a secret (?token=): named, not shown.
    throw new TypeError(`query or fragment in node address: ${url.protocol}//${url.host}${url.pathname}`);
  }
  if (!hasScheme && url.port === '') url.port = String(DEFAULT_PORT);
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

export function normalizeNodes(nodes: string | string[]): string[] {
  // Duplicates would let one node be tried twice in a call.
  const list = [...new Set((Array.isArray(nodes) ? nodes : nodes.split(',')).map(normalizeNode))];
  if (list.length === 0) throw new TypeError('at least one node address is required');
  return list;
}
