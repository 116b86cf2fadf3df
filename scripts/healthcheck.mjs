#!/usr/bin/env node
// The container's HEALTHCHECK: exit 0 when this container's node answers GET /health with 200
// (UP), 1 otherwise (STARTING, DEGRADED, not listening). Speaks HTTPS when the node does
// (AUTHCACHE_TLS_CERT set); the certificate is not checked, since this only asks the node itself
// over loopback whether it is healthy and sends no secret.
import http from 'node:http';
import https from 'node:https';

const port = Number(process.env.AUTHCACHE_PORT || 7070);
const tls = Boolean(process.env.AUTHCACHE_TLS_CERT);
const req = (tls ? https : http).get(
  { host: '127.0.0.1', port, path: '/health', timeout: 2500, ...(tls ? { rejectUnauthorized: false } : {}) },
  (res) => {
    res.resume();
    process.exit(res.statusCode === 200 ? 0 : 1);
  },
);
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', () => process.exit(1));
