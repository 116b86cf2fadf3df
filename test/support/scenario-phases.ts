/**
 * The fixed phases around the randomized steps of the scenario: creating the roles and users,
 * the periodic sweep, the final convergence checks, and the failure report.
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterNames } from '@authcache/protocol';
import { pause, redisCommand, Violation, type Reply, type UserSpec } from './scenario';
import type { Scenario } from './scenario-runner';

export async function setUp(sc: Scenario, roles: Array<{ name: string; superuser?: boolean; grants?: string[] }>, users: UserSpec[]): Promise<void> {
  for (const r of roles) await sc.admin(`create role ${r.name}`, 0, 'PUT', `/v1/roles/${r.name}`, { login: false, superuser: r.superuser ?? false, roles: r.grants ?? [] });
  for (const u of users) {
    const password = sc.nextPassword(u.name);
    const { reply, returnedAt } = await sc.admin(`create user ${u.name}`, 0, 'PUT', `/v1/roles/${u.name}`, { password, login: true, superuser: u.superuser, roles: u.grants });
    if (reply.status !== 201) throw new Error(`setup: creating ${u.name} answered ${reply.status} ${JSON.stringify(reply.json)}`);
    sc.model.addUser(u, password, returnedAt);
  }
}

/** Every user's possible passwords and last revoked one, on every node it logs in on, at once. */
export async function sweep(sc: Scenario, users: string[]): Promise<void> {
  const probes: Array<Promise<Reply>> = [];
  const everyone = [...users, ...(sc.setup.outsideUser ? [sc.setup.outsideUser.name] : [])];
  for (const user of everyone) {
    const u = sc.model.user(user);
    const passwords = new Set([...u.hashes, ...sc.model.revoked(user).slice(0, 1).map((r) => r.password)]);
    const on = u.spec.outsideOn !== undefined ? [u.spec.outsideOn] : sc.nodes.map((_, k) => k);
    for (const k of on) for (const p of passwords) probes.push(sc.login(user, p, k));
  }
  await Promise.all(probes);
}

/**
 * Heals everything, settles what failed calls and outside changes left open, and then demands
 * exactly the current password of every user on every node it logs in on; then `more` (the
 * permission half's own final checks).
 */
export async function finish(sc: Scenario, users: string[], progress: { at: string }, more?: () => Promise<void>): Promise<void> {
  progress.at = 'final: heal all and converge';
  sc.note(progress.at);
  for (const k of sc.model.cutNodes()) await sc.heal(k);
  await sc.close();
  sc.note(`  converged at seq ${await sc.converge()}`);

  progress.at = 'final: settle users left ambiguous by failed calls';
  sc.note(progress.at);
  for (const user of users) {
    if (sc.model.current(user) !== undefined) continue;
    const ok = await sc.changeUser(user, { password: sc.nextPassword(user), login: true }, 0);
    if (!ok) throw new Violation(`final: a change of ${user} through a healed, converged node failed`);
  }
  const outside = sc.setup.outsideUser;
  if (outside) await enableOutside(sc, outside.name, outside.node);
  sc.note(`  converged at seq ${await sc.converge()}`);

  progress.at = 'final: exactly the current password, on every node';
  sc.note(progress.at);
  const checks: Array<Promise<void>> = [];
  for (const user of [...users, ...(outside ? [outside.name] : [])]) {
    const current = sc.model.current(user)!;
    const on = user === outside?.name ? [outside.node] : sc.nodes.map((_, k) => k);
    for (const k of on) {
      for (const p of [...sc.model.user(user).history, `${user}-never`]) {
        checks.push(
          sc.login(user, p, k).then((r) => {
            // Converged: every revocation is applied everywhere, whatever its staleness window.
            const want = p === current ? 200 : 401;
            if (r.status !== want) throw new Violation(`after convergence ${user}/${p} on ${sc.nodes[k]!.id}: ${r.status}, expected ${want}`);
          }),
        );
      }
    }
  }
  await Promise.all(checks);
  if (more) await more();
  if (process.env.SCENARIO_HISTORY) writeFileSync(process.env.SCENARIO_HISTORY, sc.history.join('\n') + '\n');
}

/** can_login back on in Redis, then logins until the refreshing node lets the user in (each judged). */
async function enableOutside(sc: Scenario, name: string, k: number): Promise<void> {
  if (!sc.model.user(name).login.has(true)) {
    await redisCommand(sc.setup.redisPort, ['HSET', clusterNames(sc.setup.cluster).role(name), 'can_login', 'true']);
    sc.model.changeOutside(name, true, sc.now());
    sc.note(`  redis: HSET ${name} can_login true`);
  }
  const { settleMs, outsideBoundMs, ackGraceMs } = sc.setup.timing;
  const until = sc.now() + settleMs + outsideBoundMs + ackGraceMs + 2000;
  // Not waitFor: a violation thrown by the judge must end the run, not count as "not yet".
  for (let i = 0; i < 100; i++) {
    if ((await sc.login(name, sc.model.current(name)!, k)).status === 200) return;
    if (sc.now() > until) break;
    await pause(100);
  }
  throw new Violation(`final: ${name} was never let in again on ${sc.nodes[k]!.id} after can_login was set back to true`);
}

/** The failure message: how to reproduce, what broke, what led to it; full history and node logs on disk. */
export function report(sc: Scenario | undefined, title: string, at: string, err: unknown): string {
  if (!sc) return `scenario failed before it started (${title}): ${String(err)}`;
  const dir = mkdtempSync(join(tmpdir(), 'authcache-scenario-'));
  writeFileSync(join(dir, 'history.log'), sc.history.join('\n') + '\n');
  const nodes = [...sc.nodes, ...(sc.bad ? [sc.bad] : [])];
  for (const n of nodes) writeFileSync(join(dir, `${n.id}.log`), n.logs());
  const tails = nodes.map((n) => `--- ${n.id} (last lines) ---\n${n.logs().trimEnd().split('\n').slice(-12).join('\n')}`).join('\n');
  return [
    `scenario failed: ${title} at ${at}`,
    `${err instanceof Violation ? 'VIOLATION' : 'ERROR'}: ${err instanceof Error ? err.message : String(err)}`,
    `clock: scenario ms since ${sc.startedAt} (${new Date(sc.startedAt).toISOString()}); node log "time" fields are epoch ms`,
    `stats: ${JSON.stringify(sc.stats)}`,
    `full history and node logs: ${dir}`,
    '--- last steps ---',
    sc.history.slice(-40).join('\n'),
    tails,
  ].join('\n');
}
