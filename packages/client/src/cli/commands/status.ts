import type { Command } from 'commander';
import { EXIT } from '../exit-codes';
import { statusLines } from '../format';
import { checkName } from '../options';
import type { RunAction, Session } from '../session';

export function registerStatus(program: Command, run: RunAction): void {
  program
    .command('status')
    .summary('one line per member: UN/DN, address, id, seq, entries')
    .description('one line per cluster member, as the target node sees the membership: UN (up) or DN (down)')
    .addHelpText(
      'after',
      `
Output, one line per member (entries = the entries of every cache that node holds: credentials, roles,
permissions, impersonation):
  UN  127.0.0.1:7001  node1  seq=42  entries=17

Live addresses, for a nodetool-style loop:
  authctl status | grep '^UN' | awk '{print $2}'`,
    )
    .action((_opts, cmd: Command) => run(cmd, (s) => status(s)));
}

export async function status(s: Session): Promise<number> {
  const nodes = await s.client.nodes();
  if (s.json) s.printJson(nodes);
  else s.out(...statusLines(nodes));
  return EXIT.OK;
}

export function registerRemoveNode(program: Command, run: RunAction): void {
  program
    .command('removenode <node-id>')
    .summary('forget a member that went silent without leaving (nodetool removenode)')
    .description('remove a member from the membership: it is no longer listed (DN) nor counted as a failure in admin answers')
    .addHelpText(
      'after',
      `
<node-id> is the third column of authctl status. For a member that stopped heartbeating without a
graceful leave (killed, host lost); one that runs again rejoins with its next heartbeat, so the
node refuses to remove a member that is UP (HTTP 409, exit 1).

Example:
  authctl status | grep '^DN'       # DN  10.0.0.7:7070  node3  seq=41  entries=0
  authctl removenode node3`,
    )
    .action((id: string, _opts: unknown, cmd: Command) => run(cmd, (s) => removeNode(s, id)));
}

export async function removeNode(s: Session, id: string): Promise<number> {
  const r = await s.client.removeNode(checkName(id, 'the node id'));
  if (s.json) s.printJson(r);
  else s.out(r.message);
  return EXIT.OK;
}
