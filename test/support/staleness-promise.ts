/**
 * The promise checked against the clock: no node accepts a revoked credential later than
 * max_staleness after the revoking call returned (docs/architecture.md, "The staleness bound, and why it holds").
 */

import type { NodeHandle } from '@authcache/testkit';
import { MARGIN_MS, MAX_STALENESS_MS } from './fault-env';
import { type LoginSample, tryLogin } from './fault-probes';

export interface Credential {
  username: string;
  password: string;
}

export interface Revocation extends Credential {
  /** Date.now() when the revoking admin call's promise resolved (R) */
  revokedAt: number;
}

/** R + max_staleness + margin: from then on no node may accept the credential. */
export function boundOf(revokedAt: number): number {
  return revokedAt + MAX_STALENESS_MS + MARGIN_MS;
}

export interface Watched extends Credential {
  /** keep going past `untilMs` until one login of this credential on each node was sent after this */
  sampleAfter?: number;
}

/**
 * Logs in with each credential on each node, over and over, until `untilMs` (Date.now() scale). A node
 * that takes a second to answer (its Redis blackholed) is still asked once more after `sampleAfter`.
 * The pause between two logins of one loop is the poll interval, not a synchronisation.
 */
export async function watchLogins(nodes: NodeHandle[], creds: Watched[], untilMs: number, intervalMs = 25): Promise<LoginSample[]> {
  const samples: LoginSample[] = [];
  await Promise.all(
    nodes.flatMap((node) =>
      creds.map(async (c) => {
        let lastSent = -Infinity;
        while (Date.now() < untilMs || (c.sampleAfter !== undefined && lastSent <= c.sampleAfter)) {
          const s = await tryLogin(node, c.username, c.password);
          lastSent = s.sentAt;
          samples.push(s);
          await new Promise((resolve) => setTimeout(resolve, intervalMs));
        }
      }),
    ),
  );
  return samples.sort((a, b) => a.sentAt - b.sentAt);
}

function describeSample(s: LoginSample, origin: number): string {
  const what = s.status === 200 ? `200 cached=${String(s.cached)}` : `${s.status} ${s.error ?? ''}`.trim();
  return `${s.node} ${s.username}/${s.password}: ${what}, sent R+${s.sentAt - origin} ms, answered R+${s.doneAt - origin} ms`;
}

/** The last lines of a node's log, for a failure report. */
export function logTail(node: NodeHandle, lines = 15): string {
  return node.logs().trimEnd().split('\n').slice(-lines).join('\n');
}

export interface PromiseCheck {
  /** statuses a node may answer after the bound (default 401 and 503) */
  afterBound?: number[];
  /** keep checking this long after the last bound (default 600 ms) */
  watchAfterMs?: number;
}

/**
 * Watches every revoked credential on every node until past its bound, then asserts the promise:
 * the last accept (a 200, timed when its request was sent, the earliest the node can have decided)
 * is at most R + max_staleness + margin, and every node was asked at least once after the bound and
 * answered only an allowed status. Violations are reported with their timings and the node's log.
 */
export async function checkRevoked(nodes: NodeHandle[], revocations: Revocation[], opts: PromiseCheck = {}): Promise<LoginSample[]> {
  const allowed = opts.afterBound ?? [401, 503];
  const until = Math.max(...revocations.map((r) => boundOf(r.revokedAt))) + (opts.watchAfterMs ?? 600);
  const samples = await watchLogins(nodes, revocations.map((r) => ({ ...r, sampleAfter: boundOf(r.revokedAt) })), until);
  const violations: string[] = [];
  for (const r of revocations) {
    const bound = boundOf(r.revokedAt);
    const mine = samples.filter((s) => s.username === r.username && s.password === r.password);
    const accepted = mine.filter((s) => s.status === 200);
    const lastAccept = accepted.length ? Math.max(...accepted.map((s) => s.sentAt)) : -Infinity;
    if (lastAccept > bound) {
      for (const s of accepted.filter((a) => a.sentAt > bound)) {
        violations.push(`ACCEPTED after the bound R+${bound - r.revokedAt} ms: ${describeSample(s, r.revokedAt)}`);
      }
    }
    for (const node of nodes) {
      const after = mine.filter((s) => s.node === node.id && s.sentAt > bound);
      if (after.length === 0) violations.push(`${node.id} ${r.username}/${r.password}: never asked after the bound (the check would be vacuous)`);
      for (const s of after) {
        if (s.status !== 200 && !allowed.includes(s.status)) violations.push(`unexpected answer after the bound: ${describeSample(s, r.revokedAt)}`);
      }
    }
  }
  if (violations.length > 0) {
    const offenders = new Set(violations.map((v) => nodes.find((n) => v.includes(`${n.id} `))).filter((n): n is NodeHandle => n !== undefined));
    const logs = [...offenders].map((n) => `--- last log lines of ${n.id} ---\n${logTail(n)}`);
    expect([`${violations.length} violation(s) of the promise; the first ones:`, ...violations.slice(0, 20), ...logs]).toEqual([]);
  }
  return samples;
}

/** Samples answered from the cache whose request left after `bound`: each one breaks the staleness bound. */
export function cachedAfter(samples: LoginSample[], bound: number, origin: number): string[] {
  return samples.filter((s) => s.status === 200 && s.cached === true && s.sentAt > bound).map((s) => describeSample(s, origin));
}
