import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './deps.mjs';
import { getText } from './http.mjs';
import { waitUntil } from './wait.mjs';

/** NODE_OPTIONS for a node whose garbage the bench may collect from outside (inspector on a free port). */
export const INSPECTABLE = '--inspect=127.0.0.1:0';

/** Full GCs in a node started with INSPECTABLE, through its inspector; the node's code is untouched. */
export async function collectGarbage(node) {
  let port;
  await waitUntil(() => (port = /Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(node.logs())?.[1]), { timeoutMs: 5000, what: 'the inspector address in the node output' });
  const targets = JSON.parse(await getText(`http://127.0.0.1:${port}/json/list`));
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error('the node inspector lists no target');
  await promisify(execFile)(process.execPath, ['--experimental-websocket', '--no-warnings', join(repoRoot, 'scripts', 'bench', 'lib', 'collect-garbage-child.mjs'), url], { timeout: 90_000 });
}
