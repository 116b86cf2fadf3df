/**
 * A connection URL as messages and logs may show it: the password replaced by `***`, and so is any
 * query parameter that carries one (node-postgres reads `?password=`), the user and host kept. The
 * WHATWG parser splits user info at the last `@`, as the drivers do, so an unencoded `@` in a
 * password does not leave part of it behind. An unparseable URL shows only its scheme.
 */
const SECRET_PARAM = /pass|secret|token|key/i;

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const name of new Set(u.searchParams.keys())) if (SECRET_PARAM.test(name)) u.searchParams.set(name, '***');
    return u.toString();
  } catch {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1];
    return scheme ? `${scheme}://(unparseable URL)` : '(unparseable URL)';
  }
}
