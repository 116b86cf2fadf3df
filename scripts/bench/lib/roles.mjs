import { Redis, bcrypt } from './deps.mjs';

/**
 * Writes login roles straight into Redis in the node's storage format (Cassandra's system_auth.roles
 * columns in one hash per role, plus the index set), pipelined: creating 100 000 users through the API
 * would cost 100 000 bcrypt hashes.
 */
export async function writeRoles(redisUrl, cluster, names, saltedHash, onProgress) {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3 });
  await redis.connect();
  try {
    const chunk = 2000;
    for (let i = 0; i < names.length; i += chunk) {
      const slice = names.slice(i, i + chunk);
      const pipe = redis.pipeline();
      for (const name of slice) {
        pipe.hset(`${cluster}:role:${name}`, { salted_hash: saltedHash, can_login: 'true', is_superuser: 'false', member_of: '[]' });
      }
      pipe.sadd(`${cluster}:roles`, ...slice);
      const results = await pipe.exec();
      const failed = results?.find(([err]) => err);
      if (failed) throw failed[0];
      onProgress?.(Math.min(names.length, i + chunk));
    }
  } finally {
    redis.disconnect();
  }
}

export function userNames(prefix, count) {
  const width = String(count).length;
  return Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(width, '0')}`);
}

export async function bcryptHash(password, cost) {
  return bcrypt.hash(password, cost);
}
