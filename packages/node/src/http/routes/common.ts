import { CACHE_NAMES, NAME_SCHEMA, type CacheName } from '@authcache/protocol';
import type { FastifyInstance } from 'fastify';
import { badRequest } from '../../errors';

/** `?local=true|false`. */
export const localQuery = {
  type: 'object',
  properties: { local: { type: 'string', enum: ['true', 'false'] }, caches: { type: 'string', maxLength: 64 } },
} as const;

export interface LocalQuery {
  local?: 'true' | 'false';
  caches?: string;
}

/** `?caches=credentials,roles` → the caches named, or undefined for all. */
export function parseCaches(raw: string | undefined): CacheName[] | undefined {
  if (raw === undefined || raw === '') return undefined;
  const names = [...new Set(raw.split(',').map((s) => s.trim()))];
  for (const n of names) if (!CACHE_NAMES.includes(n as CacheName)) throw badRequest(`unknown cache "${n}": expected ${CACHE_NAMES.join(' or ')}`);
  return names as CacheName[];
}

export const usernameParam = {
  type: 'object',
  required: ['username'],
  properties: { username: NAME_SCHEMA },
} as const;

/**
 * `OPTIONS path` → 200 with `Allow`, as OpenSearch answers it. No admin check: a CORS preflight
 * never carries credentials, and the answer tells nothing the 405 on a wrong method does not.
 * The body is `{}`: every 2xx of this API is JSON.
 */
export function optionsRoute(app: FastifyInstance, path: string, methods: readonly string[]): void {
  const allow = [...methods, 'OPTIONS'].join(', ');
  app.options(path, async (_req, reply) => reply.header('allow', allow).send({}));
}
