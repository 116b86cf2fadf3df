import type { Command } from 'commander';
import { EXIT } from '../exit-codes';
import { statusLines } from '../format';
import type { RunAction, Session } from '../session';

export function registerStatus(program: Command, run: RunAction): void {
  program
    .command('status')
    .summary('one line per member: UN/DN, address, id, seq, entries')
    .description('one line per cluster member, as the target node sees the membership: UN (up) or DN (down)')
    .addHelpText(
      'after',
      `
Output, one line per member (entries = credentials cache + roles cache entries held by that node):
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
