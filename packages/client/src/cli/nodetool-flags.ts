/**
 * nodetool's connection flags beside -h and -p (NodeTool's -pp/--print-port, -u/--username,
 * -pw/--password, -pwf/--password-file), so that a nodetool line run with authctl either works or says
 * why not:
 * - -pp/--print-port is accepted and changes nothing: authctl always prints addresses with their port
 *   (nodetool's -pp mode), which is what lets `authctl -h $node` take the status column back as it is;
 * - -u, -pw and -pwf are JMX credentials; authctl authenticates with --token ($AUTHCACHE_ADMIN_TOKEN),
 *   so they are refused with that said (exit 2), not misread (commander would read `-pw x` as `-p w`).
 */
import { type Command, Option } from 'commander';
import { UsageError } from './exit-codes';

/** nodetool's multi-letter short flags, which commander cannot declare, and the long names they stand for. */
const MULTI_LETTER: Readonly<Record<string, string>> = { '-pp': '--print-port', '-pw': '--jmx-password', '-pwf': '--password-file' };

export function addNodetoolFlags(program: Command): void {
  program
    .addOption(new Option('--print-port', "nodetool's -pp: accepted; addresses always carry their port").hideHelp())
    .addOption(new Option('-u, --username <username>').hideHelp())
    .addOption(new Option('--jmx-password <password>').hideHelp())
    .addOption(new Option('--password-file <file>').hideHelp())
    .hook('preAction', (root) => {
      const o = root.opts<{ username?: string; jmxPassword?: string; passwordFile?: string }>();
      if (o.username !== undefined || o.jmxPassword !== undefined || o.passwordFile !== undefined) {
        throw new UsageError(
          "-u/--username, -pw and -pwf are nodetool's JMX credentials; authctl authenticates with --token or $AUTHCACHE_ADMIN_TOKEN",
        );
      }
    });
}

/**
 * -pp, -pw and -pwf rewritten to their long names, up to `--` and where they are not the value of the
 * option before them (`--token -pp` keeps its token). `valueFlags`: every flag that takes a value.
 */
export function rewriteMultiLetterFlags(argv: readonly string[], valueFlags: ReadonlySet<string>): string[] {
  const out: string[] = [];
  let ended = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const isValue = i > 0 && valueFlags.has(argv[i - 1]!);
    if (arg === '--') ended = true;
    out.push(!ended && !isValue && Object.prototype.hasOwnProperty.call(MULTI_LETTER, arg) ? MULTI_LETTER[arg]! : arg);
  }
  return out;
}

/** The flags of `program` and of all its verbs that take a required value (`<value>`). */
export function valueTakingFlags(program: Command): Set<string> {
  const flags = new Set<string>();
  const walk = (cmd: Command) => {
    for (const o of cmd.options) {
      if (!o.required) continue;
      if (o.long) flags.add(o.long);
      if (o.short) flags.add(o.short);
    }
    cmd.commands.forEach(walk);
  };
  walk(program);
  return flags;
}
