import pino, { type Logger } from 'pino';

/** Paths that may carry a secret anywhere a log call could put them. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'salted_hash',
  '*.salted_hash',
  'hash',
  '*.hash',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'clusterSecret',
  '*.clusterSecret',
  'adminToken',
  '*.adminToken',
  'req.headers.authorization',
  'headers.authorization',
  'body.password',
];

export function createLogger(level: string, nodeId: string): Logger {
  return pino({
    level,
    base: { node: nodeId },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  });
}
