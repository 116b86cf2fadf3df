// The command-line arguments of a script run by a package.json script. pnpm 10 passes on the `--`
// of `pnpm start -- --nodes 3` (npm does not), and node's strict parseArgs would take every option
// after it for a positional argument: a leading `--` is dropped, once, here for every script.
export function scriptArgs(argv = process.argv) {
  const args = argv.slice(2);
  return args[0] === '--' ? args.slice(1) : args;
}
