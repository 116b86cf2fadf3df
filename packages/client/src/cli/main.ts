/** authctl: the nodetool-style command line of an authcache cluster (the README's authctl section). */

import { Command, CommanderError } from 'commander';
import { ConnectionError, HttpError, UnauthorizedError, UnavailableError } from '../errors';
import { registerAudit } from './commands/audit';
import { registerCassandraOnly, registerInvalidate } from './commands/invalidate';
import { registerLogin } from './commands/login';
import { registerPermissions } from './commands/permissions';
import { registerRole } from './commands/role';
import { registerSettings } from './commands/settings';
import { registerRemoveNode, registerStatus } from './commands/status';
import { EXIT, exitCodeFor, InterruptedError, RefusedError, UsageError } from './exit-codes';
import type { CliIO } from './io';
import { addNodetoolFlags, rewriteMultiLetterFlags, valueTakingFlags } from './nodetool-flags';
import { parsePort, parsePositiveInt } from './options';
import { type RunAction, Session } from './session';

/** The line under every usage error: nodetool's ("See 'nodetool help' or 'nodetool help <command>'."). */
export const USAGE_HINT = "See 'authctl help' or 'authctl help <command>'.";

export function buildProgram(io: CliIO, run: RunAction, version: string): Command {
  const program = new Command('authctl');
  program
    .description('nodetool-style administration of an authcache cluster: one call reaches every node')
    // -h is the host, as in nodetool; help is --help only (inherited by every verb).
    .helpOption('--help', 'show help for authctl or a verb')
    // No commander defaults: a flag given must be told apart from $AUTHCACHE_URL's value (flags win).
    .option('-h, --host <host>', 'node to talk to: host, host:port (as authctl status prints it) or URL (default: from $AUTHCACHE_URL, else 127.0.0.1)')
    .option('-p, --port <port>', 'HTTP port of that node (default: from $AUTHCACHE_URL, else 7070)', parsePort)
    .option('--token <token>', 'admin bearer token (default: $AUTHCACHE_ADMIN_TOKEN)')
    .option('--json', 'print the raw JSON answer, for scripts')
    .option('--timeout-ms <ms>', 'give up on the node after this long', parsePositiveInt, 5000)
    .version(version, '--version', 'print the authctl version')
    // Our own help verb (below): commander's prints the whole help, exit 2, for `help nosuchverb`.
    .helpCommand(false)
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError(USAGE_HINT)
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    // Throw instead of process.exit, so main() maps every outcome to the README's exit codes.
    .exitOverride()
    .addHelpText(
      'after',
      `
Environment: AUTHCACHE_URL (e.g. http://127.0.0.1:7001) gives the defaults of -h and -p;
             AUTHCACHE_ADMIN_TOKEN the default of --token. Flags override both.
nodetool's -pp/--print-port is accepted (addresses always carry their port); its JMX credentials
(-u, -pw, -pwf) are refused: authctl authenticates with --token.

Exit codes: 0 done; 1 refused (401/403, rejected login, error answer, or a node did not apply the change);
            2 usage; 3 node unreachable or unavailable (503).

Examples:
  authctl -p 7001 status
  authctl invalidatecredentialscache alice
  printf '%s' "$PW" | authctl role alter alice --password-stdin
  # the nodetool loop; pipefail and an assignment make it fail when the node asked is down
  set -eo pipefail; nodes=$(authctl status | grep '^UN' | awk '{print $2}')
  for node in $nodes; do authctl -h "$node" invalidatecredentialscache --local; done`,
    );
  addNodetoolFlags(program);
  registerStatus(program, run);
  registerInvalidate(program, run);
  registerCassandraOnly(program);
  registerSettings(program, run);
  registerRole(program, run);
  registerPermissions(program, run);
  registerLogin(program, run);
  registerRemoveNode(program, run);
  registerAudit(program, run);
  registerHelp(program);
  return program;
}

/** `authctl help [verb [subverb]]`: that verb's help on stdout, exit 0; an unknown verb is named, exit 2. */
function registerHelp(program: Command): void {
  program
    .command('help [verb...]')
    .description('show help for authctl or a verb (same as authctl <verb> --help)')
    .action((words: string[]) => {
      let cmd: Command = program;
      const path: string[] = [];
      for (const w of words) {
        path.push(w);
        const sub = cmd.commands.find((c) => c.name() === w || c.aliases().includes(w));
        if (sub === undefined || sub.name() === 'help') {
          throw new UsageError(`unknown verb '${path.join(' ')}'; authctl --help lists the verbs`);
        }
        cmd = sub;
      }
      cmd.outputHelp();
    });
}

/** Runs one command line (without `node authctl`) and resolves to its exit code; never throws. */
export async function main(argv: readonly string[], io: CliIO, version = '0.0.0'): Promise<number> {
  let code: number = EXIT.OK;
  let session: Session | undefined;
  const run: RunAction = async (cmd, body) => {
    session = Session.from(cmd, io);
    code = await body(session);
  };
  const program = buildProgram(io, run, version);
  try {
    await program.parseAsync(rewriteMultiLetterFlags(argv, valueTakingFlags(program)), { from: 'user' });
    return code;
  } catch (err) {
    // Commander has printed its own message (usage errors, --help, --version).
    if (!(err instanceof CommanderError)) report(err, io, session);
    return exitCodeFor(err);
  }
}

function report(err: unknown, io: CliIO, s: Session | undefined): void {
  const say = (line: string) => io.stderr.write(`authctl: ${line}\n`);
  if (err instanceof UsageError) {
    say(`error: ${err.message}`);
    io.stderr.write(`${USAGE_HINT}\n`);
    return;
  }
  if (err instanceof RefusedError || err instanceof InterruptedError) {
    say(err.message);
    return;
  }
  if (err instanceof ConnectionError) {
    say(`cannot reach ${s?.address ?? 'the node'}: ${err.attempts.map((a) => a.error).join('; ')}`);
    return;
  }
  if (err instanceof HttpError) {
    // --json: the node's own answer, for the script; the line on stderr is for the person.
    if (s?.json === true && typeof err.body === 'object' && err.body !== null) s.printJson(err.body);
    const hint =
      err instanceof UnauthorizedError && s?.hasToken === false ? ' (no admin token: set AUTHCACHE_ADMIN_TOKEN or pass --token)' : '';
    const kind = err instanceof UnavailableError ? 'unavailable' : 'refused';
    say(`${kind}: HTTP ${err.status} from ${s?.address ?? err.node}: ${err.message}${hint}`);
    return;
  }
  say(`unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
}
