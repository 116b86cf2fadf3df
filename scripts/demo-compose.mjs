#!/usr/bin/env node
// One-shot demo (the `demo` service of docker-compose.yml, or against `pnpm start`):
// create a role through one node, log in twice on every node (the second answer comes from that
// node's cache), flush the user with ONE call and see every node miss again.
// Exit 0 when the cluster behaved as described, 1 otherwise.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { AuthcacheClient } = require('../packages/client/dist');

const nodes = (process.env.AUTHCACHE_NODES || 'http://127.0.0.1:7001,http://127.0.0.1:7002,http://127.0.0.1:7003')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const token = process.env.AUTHCACHE_ADMIN_TOKEN;
if (!token) {
  process.stderr.write('demo: AUTHCACHE_ADMIN_TOKEN is required\n');
  process.exit(2);
}
const user = 'demo_user';
const password = 'demo-password';

const admin = new AuthcacheClient({ nodes, token });
// One client per node: the demo is about what each node answers, so no failover to another.
const perNode = nodes.map((url) => ({ url, client: new AuthcacheClient({ nodes: [url] }) }));
const problems = [];

const propagation = (r) => `${r.nodes.successful}/${r.nodes.total} nodes applied it${r.nodes.failed ? ` (${r.nodes.failed} failed)` : ''}`;
const expect = (ok, what) => {
  if (!ok) problems.push(what);
};

async function loginEverywhere(label, wantCached) {
  console.log(`\n${label}`);
  for (const { url, client } of perNode) {
    const r = await client.login(user, password);
    console.log(`  ${url.padEnd(24)} node=${r.node} cached=${r.cached} roles=${JSON.stringify(r.roles)}`);
    if (wantCached !== undefined) expect(r.cached === wantCached, `${label}: ${url} answered cached=${r.cached}`);
  }
}

try {
  const created = await admin.putRole(user, { password, login: true });
  console.log(`role ${user} ${created.created ? 'created' : 'altered'}: ${propagation(created)}`);
  expect(created.nodes.failed === 0, 'role change did not reach every node');

  await loginEverywhere('login #1 on each node (bcrypt check, fills that node\'s cache):', false);
  await loginEverywhere('login #2 on each node (from the cache):', true);

  const flushed = await admin.flushUser(user);
  console.log(`\nflush ${user} with one call: "${flushed.message}", ${propagation(flushed)}`);
  expect(flushed.nodes.failed === 0 && flushed.nodes.successful === nodes.length, 'flush did not reach every node');

  await loginEverywhere('login after the flush (every node misses again):', false);

  const all = await admin.flushAll();
  console.log(`\nflush everything: "${all.message}", ${propagation(all)}`);
} catch (err) {
  problems.push(`${err.name}: ${err.message}`);
} finally {
  admin.close();
  for (const { client } of perNode) client.close();
}

if (problems.length) {
  console.error(`\ndemo FAILED:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('\ndemo OK');
