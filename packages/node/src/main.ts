#!/usr/bin/env node
import { hostname } from 'node:os';
import { advertisedAddress } from './advertised-address';
import { redactUrl } from '@authcache/protocol';
import { ConfigError, loadConfig, type Config } from './config';
import { createLogger } from './log';
import { AuthcacheNode } from './node';
import { buildServer } from './http/server';

/** The node process: configuration from the environment, then serve until SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`authcache: configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel, config.nodeId);
  if (config.clusterSecret.length < 16) log.warn('AUTHCACHE_CLUSTER_SECRET is shorter than 16 characters: use a long random value');
  if (config.insecureDemo) log.warn('AUTHCACHE_INSECURE_DEMO=true: placeholder secrets are accepted; never run a deployment like this');
  if (config.adminToken === undefined) log.warn('AUTHCACHE_ADMIN_TOKEN is not set: the admin API refuses every call');

  const node = new AuthcacheNode(config, log);
  const app = buildServer(node);
  // Listen first so /health can say STARTING while the caches warm.
  const address = await app.listen({ host: config.host, port: config.port });
  log.info({ address, cluster: config.cluster }, 'listening');
  try {
    await node.start(advertisedAddress(config.host, (app.server.address() as { port: number }).port, hostname()));
  } catch (err) {
    // Name what the node depends on, so the one line says where to look (secrets stripped from URLs).
    const deps = `REDIS_URL=${redactUrl(config.redisUrl)}, AUTHCACHE_BACKEND=${config.backend.kind}`;
    log.fatal({ err: (err as Error).message }, `could not start (${deps})`);
    process.stderr.write(`authcache: could not start: ${(err as Error).message} (${deps})\n`);
    process.exit(1);
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: draining requests and leaving the cluster');
    const force = setTimeout(() => {
      log.warn('in-flight requests did not finish in time; exiting');
      process.exit(1);
    }, config.shutdownGraceMs);
    force.unref();
    // Keep-alive connections that finish their request after close() began stay open otherwise,
    // and close() would wait for them: drop each one as soon as it goes idle.
    const reapIdle = setInterval(() => app.server.closeIdleConnections(), 25);
    void (async () => {
      await app.close();
      clearInterval(reapIdle);
      await node.stop();
      log.info('stopped');
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

process.on('unhandledRejection', (err) => {
  process.stderr.write(`authcache: unhandled rejection: ${String(err)}\n`);
});

void main().catch((err: unknown) => {
  process.stderr.write(`authcache: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
