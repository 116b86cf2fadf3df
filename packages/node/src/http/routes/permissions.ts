/**
 * Grants of permissions to roles (docs/architecture.md, "Permissions and impersonation"), admin only: `PUT /v1/roles/{name}/permissions`
 * grants, `DELETE` with the same body revokes, `GET` lists; `GET /v1/permissions` lists every
 * role's. Each change is written and invalidated on every node in one atomic step before it
 * answers, like role changes (docs/architecture.md, "Atomic change and invalidation").
 */
import { LIMITS, NAME_SCHEMA, type PermissionChange } from '@authcache/protocol';
import type { FastifyInstance } from 'fastify';
import type { AdminGuard } from '../admin-auth';
import { HttpError } from '../../errors';
import type { PermissionService } from '../../permissions';

const roleName = NAME_SCHEMA;
const nameParam = { type: 'object', required: ['name'], properties: { name: roleName } } as const;
const changeBody = {
  type: 'object',
  required: ['resource', 'permissions'],
  additionalProperties: false,
  properties: {
    resource: { type: 'string', minLength: 1, maxLength: LIMITS.resource },
    permissions: { type: 'array', minItems: 1, maxItems: LIMITS.permissionsPerChange, items: { type: 'string', minLength: 1, maxLength: LIMITS.permission } },
  },
} as const;

const BODY_REQUIRED = 'body required: {"resource":"data/ks","permissions":["SELECT"]}';

export function permissionRoutes(app: FastifyInstance, permissions: PermissionService, admin: AdminGuard): void {
  type Req = { Params: { name: string }; Body: PermissionChange | undefined };

  app.put<Req>('/v1/roles/:name/permissions', { onRequest: admin, schema: { params: nameParam, body: changeBody } }, async (req) => {
    if (req.body === undefined) throw new HttpError(400, BODY_REQUIRED);
    return permissions.grant(req.params.name, req.body.resource, req.body.permissions);
  });

  app.delete<Req>('/v1/roles/:name/permissions', { onRequest: admin, schema: { params: nameParam, body: changeBody } }, async (req) => {
    if (req.body === undefined) throw new HttpError(400, BODY_REQUIRED);
    return permissions.revoke(req.params.name, req.body.resource, req.body.permissions);
  });

  app.get<{ Params: { name: string } }>('/v1/roles/:name/permissions', { onRequest: admin, schema: { params: nameParam } }, async (req) =>
    permissions.list(req.params.name),
  );

  app.get('/v1/permissions', { onRequest: admin }, async () => permissions.listAll());
}
