/**
 * The connections to the directory: a bounded pool of service-bound connections for searches and
 * one of connections for user binds (a bind changes a connection's identity, so the two never
 * mix), a deadline on every operation (waiting for a connection included), and the health the
 * node reports: 'down' from the first operation the directory does not answer until one succeeds
 * again; a probe runs meanwhile, so recovery needs no traffic.
 */
import { Client, InvalidCredentialsError, ResultCodeError, type ClientOptions, type Entry, type SearchOptions } from 'ldapts';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from 'pino';
import { RoleStoreError } from '../role-store';
import type { LdapConfig } from './config';
import { completeRanges } from './ranges';

/** The directory answered with a result code: the connection is fine (no such object, size limit...). */
export function isResultError(err: unknown): err is ResultCodeError {
  return err instanceof ResultCodeError;
}

/** Result codes that say "not now" rather than "no": timeLimitExceeded, adminLimitExceeded, busy, unavailable, other. */
const TRANSIENT_CODES = new Set([3, 11, 51, 52, 80]);

/** The deadline of an LDAP operation passed before `p` settled. */
class DeadlinePassed extends Error {}

/** `p`, or a DeadlinePassed rejection once `deadline` (epoch ms, at least `minMs` from now) passes; no timer outlives the race. */
async function byDeadline<T>(p: Promise<T>, deadline: number, message: string, minMs = 0): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const passed = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new DeadlinePassed(message)), Math.max(minMs, deadline - Date.now()))));
  try {
    return await Promise.race([p, passed]);
  } finally {
    clearTimeout(timer);
  }
}

class Pool {
  private readonly idle: Client[] = [];
  private open = 0;
  /** Callers waiting for a connection; a waiter answers false once it has given up (its deadline passed). */
  private readonly waiters: Array<(c: Client | Error) => boolean> = [];
  closed = false;

  constructor(
    private readonly size: number,
    private readonly create: () => Promise<Client>,
    /** Whether an idle connection may be used as it is (still connected, still bound). */
    private readonly usable: (c: Client) => boolean,
  ) {}

  async acquire(deadline: number): Promise<Client> {
    if (this.closed) throw new Error('LDAP pool closed');
    for (let c = this.idle.pop(); c; c = this.idle.pop()) {
      if (this.usable(c)) return c;
      // Closed by the server (restart, idle timeout): ldapts would reconnect it by itself, but
      // unbound and without StartTLS, so it is replaced instead.
      this.open--;
      void c.unbind().catch(() => undefined);
    }
    if (this.open < this.size) {
      this.open++;
      const made = this.create();
      try {
        // Opening counts against the operation's timeout: ldapts bounds each step (connect, StartTLS,
        // bind) on its own, so a directory that accepts and never answers would take their sum.
        return await byDeadline(made, deadline, 'LDAP operation timed out while opening a connection');
      } catch (err) {
        if (err instanceof DeadlinePassed) {
          // Still counted open: the connection, if it comes, joins the pool (as a late one in wakeOne).
          made.then(
            (c) => this.release(c),
            () => {
              this.open--;
              this.wakeOne();
            },
          );
        } else {
          this.open--;
          this.wakeOne();
        }
        throw err;
      }
    }
    return new Promise<Client>((resolve, reject) => {
      let settled = false;
      const waiter = (got: Client | Error) => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        if (got instanceof Error) reject(got);
        else resolve(got);
        return true;
      };
      const timer = setTimeout(() => {
        settled = true;
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no LDAP connection free within the timeout (pool of ${this.size})`));
      }, Math.max(0, deadline - Date.now()));
      this.waiters.push(waiter);
    });
  }

  /** Returns a connection; `adopted`: one made outside acquire() joins the pool. */
  release(c: Client, adopted = false): void {
    if (adopted) {
      if (this.open >= this.size) return void c.unbind().catch(() => undefined);
      this.open++;
    }
    for (let w = this.waiters.shift(); w; w = this.waiters.shift()) if (w(c)) return;
    if (this.closed) void c.unbind().catch(() => undefined);
    else this.idle.push(c);
  }

  /** A connection that failed: close it; a waiter may open a new one. */
  discard(c: Client): void {
    this.open--;
    void c.unbind().catch(() => undefined);
    this.wakeOne();
  }

  private wakeOne(): void {
    const w = this.waiters.shift();
    if (!w) return;
    this.open++;
    this.create().then(
      // A connection that comes after its waiter gave up (a directory answering again) still
      // counts as open: handed on or kept idle, never dropped, or the pool would shrink for good.
      (c) => void (w(c) || this.release(c)),
      (err: Error) => {
        this.open--;
        w(err);
      },
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w(new Error('LDAP pool closed'));
    await Promise.all(this.idle.splice(0).map((c) => c.unbind().catch(() => undefined)));
  }
}

export class Directory {
  private readonly search_: Pool;
  private readonly binds: Pool;
  private readonly tls: ConnectionOptions | undefined;
  private readonly tlsHost: ConnectionOptions;
  private up = true;
  private probeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly cfg: LdapConfig,
    private readonly log: Logger,
    /** How a connection is made: ldapts, or a scripted client in unit tests. */
    private readonly newClient: (opts: ClientOptions) => Client = (opts) => new Client(opts),
  ) {
    this.tls = cfg.ca !== undefined ? { ca: cfg.ca } : undefined;
    const host = new URL(cfg.url).hostname.replace(/^\[|\]$/g, '');
    // SNI takes a name, never an address (RFC 6066 §3).
    this.tlsHost = isIP(host) ? { host } : { host, servername: host };
    const bound = cfg.bindDn !== undefined;
    this.search_ = new Pool(cfg.poolSize, () => this.connect(true), (c) => (bound ? c.isBound : c.isConnected));
    this.binds = new Pool(cfg.poolSize, () => this.connect(false), (c) => c.isConnected);
  }

  health(): 'up' | 'down' {
    return this.up ? 'up' : 'down';
  }

  /** Checks the service account once; a wrong one is a configuration error and stops the start. */
  async start(): Promise<void> {
    try {
      const c = await this.connect(true);
      this.search_.release(c, true);
    } catch (err) {
      if (err instanceof InvalidCredentialsError) throw new Error(`AUTHCACHE_LDAP_BIND_DN: the directory refused the service account (${err.message})`);
      this.up = false;
      this.log.warn({ err: String(err) }, 'LDAP does not answer at start; logins that need it get 503 until it does');
    }
    const every = Math.min(2000, Math.max(250, this.cfg.timeoutMs));
    this.probeTimer = setInterval(() => void this.probe().catch(() => undefined), every);
    this.probeTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.probeTimer) clearInterval(this.probeTimer);
    await Promise.all([this.search_.close(), this.binds.close()]);
  }

  private probe(): Promise<unknown> {
    return this.search(this.cfg.userBase, { scope: 'base', attributes: ['1.1'] });
  }

  /** A search with the service account; its entries, or RoleStoreError('unavailable'). Result codes other than success reject as ResultCodeError. */
  async search(base: string, opts: SearchOptions): Promise<Entry[]> {
    const entries = await this.searchOnce(base, opts);
    // Active Directory hands out large multi-valued attributes (a big group's member) in ranges:
    // the rest is read here, so every reader sees whole entries. Each range is its own pool
    // operation: holding this connection while asking for another could deadlock a small pool.
    const fetch = async (dn: string, attribute: string) => (await this.searchOnce(dn, { scope: 'base', filter: '(objectClass=*)', attributes: [attribute] }))[0];
    try {
      return await completeRanges(entries, fetch);
    } catch (err) {
      // Even a result code (the group deleted between two ranges) is an incomplete read here: a
      // caller taking it for "no such entry" would see no members instead of some.
      if (err instanceof RoleStoreError) throw err;
      throw new RoleStoreError('unavailable', `LDAP ranged retrieval incomplete: ${(err as Error).message}`);
    }
  }

  private async searchOnce(base: string, opts: SearchOptions): Promise<Entry[]> {
    return this.run(this.search_, async (c) => {
      if (opts.paged) {
        const out: Entry[] = [];
        for await (const page of c.searchPaginated(base, opts)) out.push(...page.searchEntries);
        return out;
      }
      return (await c.search(base, opts)).searchEntries;
    });
  }

  /** Binds as `dn` with `password`: true when the directory accepts it; false for any refusal. */
  async checkBind(dn: string, password: string): Promise<boolean> {
    // An empty password is an unauthenticated bind (RFC 4513 §5.1.2): many servers answer success.
    if (password === '') return false;
    try {
      await this.run(this.binds, (c) => c.bind(dn, password));
      return true;
    } catch (err) {
      if (isResultError(err)) return false;
      throw err;
    }
  }

  private async run<T>(pool: Pool, op: (c: Client) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.cfg.timeoutMs;
    let client: Client;
    try {
      client = await pool.acquire(deadline);
    } catch (err) {
      throw this.unavailable(err);
    }
    try {
      const result = await byDeadline(op(client), deadline, `LDAP operation timed out after ${this.cfg.timeoutMs} ms`, 1);
      pool.release(client);
      this.markUp();
      return result;
    } catch (err) {
      if (isResultError(err) && !TRANSIENT_CODES.has(err.code)) {
        pool.release(client);
        this.markUp();
        throw err;
      }
      pool.discard(client);
      throw this.unavailable(err);
    }
  }

  private async connect(service: boolean): Promise<Client> {
    const client = this.newClient({
      url: this.cfg.url,
      timeout: this.cfg.timeoutMs,
      connectTimeout: this.cfg.timeoutMs,
      // Only for ldaps://: on an ldap:// client, ldapts 8.2 with tlsOptions breaks a later StartTLS.
      tlsOptions: /^ldaps:/i.test(this.cfg.url) ? { ...this.tls, ...this.tlsHost } : undefined,
      strictDN: false,
    });
    try {
      // A fresh options object each time (startTLS writes the socket into it), naming the host the
      // certificate must be for: tls.connect would check it against "localhost" otherwise.
      if (this.cfg.startTls) await client.startTLS({ ...this.tls, ...this.tlsHost });
      if (service && this.cfg.bindDn !== undefined) await client.bind(this.cfg.bindDn, this.cfg.bindPassword);
      return client;
    } catch (err) {
      await client.unbind().catch(() => undefined);
      throw err;
    }
  }

  private markUp(): void {
    if (this.up) return;
    this.up = true;
    this.log.info('LDAP answers again');
  }

  private unavailable(err: unknown): RoleStoreError {
    if (err instanceof RoleStoreError) return err;
    if (err instanceof InvalidCredentialsError) {
      // The service account itself was refused (password rotated?): as unusable as a dead server.
      this.log.error({ err: err.message }, 'LDAP refused the service account');
    }
    if (this.up) {
      this.up = false;
      this.log.warn({ err: String(err) }, 'LDAP does not answer');
    }
    return new RoleStoreError('unavailable', 'the LDAP directory does not answer');
  }
}
