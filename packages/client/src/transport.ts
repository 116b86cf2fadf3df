/** One logical call = one HTTP request, tried against the nodes in turn (round robin + failover). */

import {
  type Attempt,
  ConnectionError,
  InvalidResponseError,
  type RouteKind,
  UnavailableError,
  httpErrorFor,
} from './errors';

export type Credentials = { type: 'none' } | { type: 'bearer' } | { type: 'basic'; username: string; password: string };

export interface CallSpec {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** already encoded path, starting with '/' */
  path: string;
  /** values are encoded here; an array becomes a comma-separated list */
  query?: Record<string, string | readonly string[] | undefined>;
  body?: unknown;
  kind: RouteKind;
  credentials: Credentials;
  /** statuses returned as answers rather than thrown; default 200 and 201 */
  accept?: readonly number[];
  /** extra request headers (e.g. security_impersonate_as); checked by the caller */
  headers?: Record<string, string>;
}

export interface Answer<T> {
  status: number;
  body: T;
  node: string;
}

const DEFAULT_ACCEPT: readonly number[] = [200, 201];

export class Transport {
  private cursor = 0;

  constructor(
    readonly nodes: readonly string[],
    readonly timeoutMs: number,
    private readonly token: string | undefined,
  ) {}

  async call<T>(spec: CallSpec): Promise<Answer<T>> {
    const n = this.nodes.length;
    const start = this.cursor;
    this.cursor = (this.cursor + 1) % n;
    const attempts: Attempt[] = [];
    let lastUnavailable: UnavailableError | undefined;
    const accept = spec.accept ?? DEFAULT_ACCEPT;

    for (let i = 0; i < n; i++) {
      const node = this.nodes[(start + i) % n]!;
      const outcome = await this.once(node, spec);
      if (outcome.kind === 'transport') {
        attempts.push({ node, error: outcome.error });
        continue;
      }
      const { status, text, retryAfter } = outcome;
      const body = parseBody(text);
      if (accept.includes(status)) {
        if (body === INVALID || (body === undefined && status !== 204)) {
          throw new InvalidResponseError(status, text, node);
        }
        return { status, body: body as T, node };
      }
      const err = httpErrorFor(spec.kind, status, body === INVALID ? text : body, node, retryAfter);
      if (err instanceof UnavailableError) {
        lastUnavailable = err;
        attempts.push({ node, error: err.message, status });
        continue;
      }
      throw err;
    }
    if (lastUnavailable !== undefined && attempts.every((a) => a.status === 503)) throw lastUnavailable;
    throw new ConnectionError(attempts);
  }

  private async once(
    node: string,
    spec: CallSpec,
  ): Promise<{ kind: 'transport'; error: string } | { kind: 'answer'; status: number; text: string; retryAfter: string | null }> {
    const headers: Record<string, string> = { ...spec.headers, accept: 'application/json' };
    let payload: string | undefined;
    if (spec.body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(spec.body);
    }
    const auth = this.authorization(spec.credentials);
    if (auth !== undefined) headers.authorization = auth;

    // One signal for connect, headers and body: a node that stalls mid-body is as dead as one that never answers.
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const res = await fetch(node + spec.path + queryString(spec.query), {
        method: spec.method,
        headers,
        ...(payload !== undefined ? { body: payload } : {}),
        signal,
      });
      const text = await res.text();
      return { kind: 'answer', status: res.status, text, retryAfter: res.headers.get('retry-after') };
    } catch (err) {
      return { kind: 'transport', error: describeTransportError(err, this.timeoutMs) };
    }
  }

  private authorization(c: Credentials): string | undefined {
    switch (c.type) {
      case 'none':
        return undefined;
      case 'bearer':
        return this.token === undefined ? undefined : `Bearer ${this.token}`;
      case 'basic':
        return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
    }
  }
}

const INVALID = Symbol('invalid JSON');

function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return INVALID;
  }
}

function queryString(query: CallSpec['query']): string {
  if (query === undefined) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    // The comma stays literal: the node splits `caches=credentials,roles` on it.
    const value = typeof v === 'string' ? encodeURIComponent(v) : v.map(encodeURIComponent).join(',');
    parts.push(`${encodeURIComponent(k)}=${value}`);
  }
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

/**
 * fetch() reports network failures as TypeError('fetch failed'|'terminated') with the socket error as cause
 * and the deadline as a TimeoutError; neither message can hold a request header or body, so no password leaks.
 * Duck-typed, not instanceof: fetch's errors may come from another realm (jest's vm contexts do that).
 */
function describeTransportError(err: unknown, timeoutMs: number): string {
  const e = asErrorLike(err);
  if (e === undefined) return String(err);
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `timeout after ${timeoutMs}ms`;
  return describeCause(e.cause) ?? e.message ?? e.name ?? 'unknown error';
}

interface ErrorLike {
  name?: string;
  message?: string;
  code?: string;
  cause?: unknown;
  errors?: unknown[];
}

function asErrorLike(v: unknown): ErrorLike | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const str = (x: unknown) => (typeof x === 'string' ? x : undefined);
  return {
    name: str(o.name),
    message: str(o.message),
    code: str(o.code),
    cause: o.cause,
    errors: Array.isArray(o.errors) ? (o.errors as unknown[]) : undefined,
  };
}

function describeCause(cause: unknown): string | undefined {
  const c = asErrorLike(cause);
  if (c === undefined) return undefined;
  const tls = describeTls(c);
  if (tls !== undefined) return tls;
  if (c.code === 'UND_ERR_SOCKET') {
    // What a plain-http request to a node serving HTTPS gets: the TLS server hangs up on it.
    return `${c.message ?? 'connection closed'} without an answer (if the node serves HTTPS, use an https:// address)`;
  }
  if (c.message !== undefined && c.message !== '') return c.message;
  // Happy-eyeballs connects fail with an AggregateError whose own message is empty.
  if (c.code !== undefined) return c.code;
  const first = c.errors?.[0] !== undefined ? asErrorLike(c.errors[0]) : undefined;
  return first?.message ?? c.name;
}

const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST']);
const UNTRUSTED = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS_CERT_ALTNAME_INVALID/;

/**
 * OpenSSL's own messages are multi-line-looking codes ("0A00010B:SSL routines:ssl3_get_record:wrong
 * version number:../deps/openssl/..."); an operator needs what it means and what to do instead.
 */
function describeTls(c: ErrorLike): string | undefined {
  const code = c.code ?? '';
  if (NOT_TLS.has(code)) return 'TLS handshake failed: the node does not speak HTTPS on this port (use an http:// address)';
  if (code.startsWith('ERR_SSL_')) return `TLS handshake failed (${code.slice('ERR_SSL_'.length).toLowerCase().replace(/_/g, ' ')})`;
  if (UNTRUSTED.test(code)) {
    return `TLS certificate not accepted: ${c.message ?? code} (a private CA: set NODE_EXTRA_CA_CERTS to its PEM file)`;
  }
  return undefined;
}
