/** The vocabulary of the scenario's model and runner: timing rules, users, answers, outcomes. */

/** The clock rules the judge applies; all in ms. */
export interface Timing {
  /** AUTHCACHE_MAX_STALENESS_MS of the nodes: the bound of the guarantee, used as is. */
  maxStalenessMs: number;
  /** After a heal, how long a node may still be reconnecting and catching up (503 and stale 401 allowed). Liveness only. */
  settleMs: number;
  /** After a successful change a healthy member did not acknowledge, how long it may still miss it. Liveness only. */
  ackGraceMs: number;
  /**
   * A change made outside the API (direct write to Redis) reaches the refreshing node only by
   * its reload: refresh_ms plus the time the reload takes. Not the README's bound (it makes none
   * for such changes) but the one refresh_ms with active update promises.
   */
  outsideBoundMs: number;
}

export interface UserSpec {
  name: string;
  /** roles granted at setup (they never change during the scenario) */
  grants: string[];
  superuser: boolean;
  /** what a 200 must carry: every role held, transitively, and whether any of them is superuser */
  expect: { roles: string[]; superuser: boolean };
  /** changed only directly in Redis, and logged in only on this node (the one that refreshes) */
  outsideOn?: number;
}

export interface Reply {
  status: number;
  json: any;
}

/** When a login was sent and when its answer arrived (ms on the model's clock). */
export interface Timed {
  sent: number;
  answered: number;
}

export type ChangeOutcome = { ok: true; returnedAt: number; acked: string[] } | { ok: false; returnedAt: number };

/** What Redis holds for a user, read directly: which of the model's candidate passwords, and can_login. */
export interface Truth {
  password: string | undefined;
  canLogin: boolean;
}
