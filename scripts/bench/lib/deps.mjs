// The bench is plain ESM outside the workspace packages, so it reaches the built packages and their
// dependencies (ioredis, @node-rs/bcrypt) through the packages that declare them.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

for (const built of ['packages/testkit/dist/index.js', 'packages/node/dist/main.js']) {
  if (!existsSync(join(repoRoot, built))) {
    process.stderr.write(`bench: ${built} is missing: run npx -y pnpm@10 bench (which builds) or npx -y pnpm@10 build first\n`);
    process.exit(1);
  }
}

const fromRoot = createRequire(join(repoRoot, 'package.json'));
const fromNode = createRequire(join(repoRoot, 'packages', 'node', 'package.json'));

export const testkit = fromRoot(join(repoRoot, 'packages', 'testkit', 'dist', 'index.js'));
export const Redis = fromNode('ioredis').default ?? fromNode('ioredis');
export const bcrypt = fromNode('@node-rs/bcrypt');
export const autocannon = fromRoot('autocannon');
export const hdr = fromRoot('hdr-histogram-js');
