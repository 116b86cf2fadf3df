/** One authctl run: the resolved connection options, the client, and the output helpers. */

import type { Command } from 'commander';
import { AuthcacheClient } from '../client';
import { UsageError } from './exit-codes';
import type { CliIO } from './io';
import { defaultsFromEnv, targetAddress } from './target';

/** How main() runs a verb's body: the session is built from the options commander parsed. */
export type RunAction = (cmd: Command, body: (s: Session) => Promise<number>) => Promise<void>;

export interface GlobalOptions {
  /** undefined when not on the command line: then $AUTHCACHE_URL's, else 127.0.0.1 */
  host?: string;
  port?: number;
  token?: string;
  json?: boolean;
  timeoutMs: number;
}

export class Session {
  private cached: AuthcacheClient | undefined;

  constructor(
    readonly io: CliIO,
    readonly json: boolean,
    /** 'host:port' or a base URL */
    readonly address: string,
    private readonly token: string | undefined,
    private readonly timeoutMs: number,
  ) {}

  /** Built from the root command's options, wherever on the line they were given. */
  static from(cmd: Command, io: CliIO): Session {
    let root = cmd;
    while (root.parent) root = root.parent;
    const g = root.opts<GlobalOptions>();
    const token = g.token ?? (io.env.AUTHCACHE_ADMIN_TOKEN || undefined);
    const address = targetAddress(g.host, g.port, defaultsFromEnv(io.env.AUTHCACHE_URL));
    return new Session(io, g.json === true, address, token, g.timeoutMs);
  }

  get hasToken(): boolean {
    return this.token !== undefined;
  }

  get client(): AuthcacheClient {
    if (this.cached === undefined) {
      try {
        this.cached = new AuthcacheClient({
          nodes: [this.address],
          ...(this.token !== undefined ? { token: this.token } : {}),
          timeoutMs: this.timeoutMs,
        });
      } catch (err) {
        // The SDK checks the address and the token before any request; both come from the command line.
        if (err instanceof TypeError) throw new UsageError(err.message);
        throw err;
      }
    }
    return this.cached;
  }

  out(...lines: string[]): void {
    for (const line of lines) this.io.stdout.write(`${line}\n`);
  }

  printJson(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  warn(message: string): void {
    this.io.stderr.write(`authctl: ${message}\n`);
  }
}
