import { LIMITS, NAME_SCHEMA } from '@authcache/protocol';
import type { FastifyInstance } from 'fastify';
import type { AuthcacheNode } from '../../node';
import type { AdminGuard } from '../admin-auth';
import { roleInfo, type RoleInput } from '../../admin';
import { notFound, orUnavailable } from '../../errors';

const roleName = NAME_SCHEMA;
const nameParam = { type: 'object', required: ['name'], properties: { name: roleName } } as const;
const roleList = { type: 'array', maxItems: LIMITS.rolesPerChange, items: roleName } as const;
const roleBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    password: { type: 'string', minLength: 1, maxLength: LIMITS.password },
    login: { type: 'boolean' },
    superuser: { type: 'boolean' },
    roles: roleList,
    grant: roleList,
    revoke: roleList,
  },
} as const;

/** Roles (the authentication backend). Every change invalidates the users it affects on every node. */
export function roleRoutes(app: FastifyInstance, node: AuthcacheNode, admin: AdminGuard): void {
  const read = <T>(f: () => Promise<T>): Promise<T> => orUnavailable(node.log, 'role store unreachable', f);

  app.put<{ Params: { name: string }; Body: RoleInput | undefined }>(
    '/v1/roles/:name',
    { onRequest: admin, schema: { params: nameParam, body: roleBody } },
    async (req, reply) => {
      const { role, created, propagation } = await node.admin.putRole(req.params.name, req.body ?? {});
      return reply.code(created ? 201 : 200).send({ role, created, ...propagation });
    },
  );

  app.get('/v1/roles', { onRequest: admin }, async () => (await read(() => node.roles.list())).map(roleInfo));

  app.get<{ Params: { name: string } }>('/v1/roles/:name', { onRequest: admin, schema: { params: nameParam } }, async (req) => {
    const r = await read(() => node.roles.get(req.params.name));
    if (!r) throw notFound(`role ${req.params.name} does not exist`);
    return roleInfo(r);
  });

  app.delete<{ Params: { name: string } }>('/v1/roles/:name', { onRequest: admin, schema: { params: nameParam } }, async (req) => {
    const p = await node.admin.dropRole(req.params.name);
    return { message: `Role dropped: ${req.params.name}`, ...p };
  });
}
