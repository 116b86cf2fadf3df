/**
 * Version 2 of the PostgreSQL schema (docs/architecture.md, "Backends"): grants of permissions.
 *
 * - `role_permissions (role, resource, permissions text[])`, the shape of Cassandra's
 *   system_auth.role_permissions (role, resource, permissions set<text>), so rows copied from
 *   Cassandra read as they are. A table that already exists with these columns is used as it is.
 * - every INSERT, UPDATE (that changes something), DELETE and TRUNCATE of it is recorded in
 *   `role_changes` (the same change record as roles: `resource` set marks a permission change) by
 *   a trigger in the writer's own transaction, then NOTIFY: the change relay turns each batch into
 *   ONE invalidation of the role's and its holders' permission entries, whoever wrote it.
 */
import type { SqlNames } from './pg';

/** The columns authcache reads and writes, with the catalog's name of their type. */
export const PERMISSION_COLUMNS: Record<string, string> = { role: 'text', resource: 'text', permissions: '_text' };

export function version2(n: SqlNames): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${n.permissions} (
       role text NOT NULL,
       resource text NOT NULL,
       permissions text[] NOT NULL DEFAULT '{}',
       PRIMARY KEY (role, resource))`,
    `ALTER TABLE ${n.changes} ADD COLUMN IF NOT EXISTS resource text`,
    `ALTER TABLE ${n.changes} ADD COLUMN IF NOT EXISTS old_permissions text[]`,
    `ALTER TABLE ${n.changes} ADD COLUMN IF NOT EXISTS new_permissions text[]`,
    `CREATE OR REPLACE FUNCTION ${n.permissionFunction}() RETURNS trigger LANGUAGE plpgsql AS $fn$
     BEGIN
       IF TG_OP = 'INSERT' THEN
         INSERT INTO ${n.changes} (op, role, resource, new_permissions) VALUES ('INSERT', NEW.role, NEW.resource, NEW.permissions);
       ELSIF TG_OP = 'UPDATE' THEN
         IF NEW.role IS NOT DISTINCT FROM OLD.role AND NEW.resource IS NOT DISTINCT FROM OLD.resource
            AND NEW.permissions IS NOT DISTINCT FROM OLD.permissions THEN
           RETURN NULL; -- nothing authcache reads changed
         END IF;
         INSERT INTO ${n.changes} (op, role, old_role, resource, old_permissions, new_permissions)
           VALUES ('UPDATE', NEW.role, CASE WHEN NEW.role IS DISTINCT FROM OLD.role THEN OLD.role END, NEW.resource, OLD.permissions, NEW.permissions);
       ELSE
         INSERT INTO ${n.changes} (op, role, resource, old_permissions) VALUES ('DELETE', OLD.role, OLD.resource, OLD.permissions);
       END IF;
       PERFORM pg_notify('${n.channel}', 'change');
       RETURN NULL;
     END $fn$`,
    `CREATE OR REPLACE FUNCTION ${n.permissionsTruncateFunction}() RETURNS trigger LANGUAGE plpgsql AS $fn$
     BEGIN
       INSERT INTO ${n.changes} (op, role, resource, old_permissions)
         SELECT 'DELETE', role, resource, permissions FROM ${n.permissions};
       PERFORM pg_notify('${n.channel}', 'change');
       RETURN NULL;
     END $fn$`,
    `DROP TRIGGER IF EXISTS authcache_permission_change ON ${n.permissions}`,
    `CREATE TRIGGER authcache_permission_change AFTER INSERT OR UPDATE OR DELETE ON ${n.permissions}
       FOR EACH ROW EXECUTE FUNCTION ${n.permissionFunction}()`,
    `DROP TRIGGER IF EXISTS authcache_permissions_truncate ON ${n.permissions}`,
    `CREATE TRIGGER authcache_permissions_truncate BEFORE TRUNCATE ON ${n.permissions}
       FOR EACH STATEMENT EXECUTE FUNCTION ${n.permissionsTruncateFunction}()`,
  ];
}
