import type { Command } from 'commander';
import type { AuditEntry } from '../../types';
import { EXIT } from '../exit-codes';
import { parsePositiveInt } from '../options';
import type { RunAction, Session } from '../session';

export function registerAudit(program: Command, run: RunAction): void {
  program
    .command('audit')
    .summary('who changed what: the cluster-wide audit trail, newest first')
    .description('admin calls that changed something, and refused admin calls, as the nodes recorded them')
    .option('--since <when>', 'only entries since: an ISO time, a ms epoch, or a duration (30s, 15m, 1h, 2d)')
    .option('--limit <n>', 'at most this many entries (node default 100, at most 1000)', parsePositiveInt)
    .addHelpText(
      'after',
      `
Output, one line per entry (seq and nodes "-" for a call that published nothing):
  2026-12-02T08:01:02.345Z  token  127.0.0.1  flush_user  alice  seq=42  200  nodes=3/3

Example:
  authctl audit --since 1h | grep -v ' 200 '     # what failed or was refused in the last hour`,
    )
    .action((opts: { since?: string; limit?: number }, cmd: Command) => run(cmd, (s) => audit(s, opts)));
}

export async function audit(s: Session, opts: { since?: string; limit?: number }): Promise<number> {
  const entries = await s.client.audit({ ...(opts.since !== undefined ? { since: opts.since } : {}), ...(opts.limit !== undefined ? { limit: opts.limit } : {}) });
  if (s.json) s.printJson(entries);
  else s.out(...entries.map(auditLine));
  return EXIT.OK;
}

/** One entry as a line: fields apart by two spaces, so `awk` and `grep` read it. */
export function auditLine(e: AuditEntry): string {
  const nodes = e.nodes ? `nodes=${e.nodes.successful}/${e.nodes.total}` : 'nodes=-';
  return [e.ts, e.actor, e.address, e.action, e.target ?? '-', `seq=${e.seq ?? '-'}`, String(e.status), nodes].join('  ');
}
