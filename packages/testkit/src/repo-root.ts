import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The workspace root (the directory holding pnpm-workspace.yaml), found from this file whether it runs
 *  from src (jest) or dist. */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`testkit: no pnpm-workspace.yaml above ${__dirname}`);
    dir = parent;
  }
}

export function defaultNodeEntry(): string {
  return join(repoRoot(), 'packages', 'node', 'dist', 'main.js');
}
