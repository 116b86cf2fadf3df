/**
 * The address a node gives the cluster for itself (the membership, `authctl status`, the
 * operator console): where the others and the operators reach it. A wildcard listen address
 * (`AUTHCACHE_HOST=0.0.0.0` or `::`, as in a container) is where the node accepts connections
 * from, not an address anyone can connect to, so the machine's hostname stands in for it, as a
 * node id defaults to `<hostname>:<port>`. On a compose network the hostname resolves when it is
 * set to the service's name (docker-compose.yml does).
 */
const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '::0', '']);

export function advertisedAddress(host: string, port: number, hostname: string): string {
  return `${WILDCARDS.has(host) ? hostname : host}:${port}`;
}
