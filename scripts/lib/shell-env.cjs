// The `export` lines `pnpm start` prints: with them in a shell, every README example runs as
// written (authctl on PATH, aimed at node 1, with the admin token). test/readme-examples.test.ts
// runs the README's examples after exactly these lines, so the two cannot drift apart.
'use strict';
const { join } = require('node:path');

/** A single-quoted shell word: safe for any value (a ' inside becomes '\''). */
function shellQuote(value) {
  return `'${String(value).replace(/'/g, `'\\''`)}'`;
}

/**
 * @param {{ url: string, token: string, root: string }} o  url: the node authctl targets by default
 * @returns {string[]} one `export` per line
 */
function operatorExports(o) {
  return [
    `export AUTHCACHE_URL=${shellQuote(o.url)}`,
    `export AUTHCACHE_ADMIN_TOKEN=${shellQuote(o.token)}`,
    `export PATH=${shellQuote(join(o.root, 'scripts', 'bin'))}:"$PATH"`,
  ];
}

module.exports = { operatorExports, shellQuote };
