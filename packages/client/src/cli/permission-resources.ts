/**
 * The resource options of Cassandra's `nodetool invalidatepermissionscache` (4.1: `<role>` with
 * --all-keyspaces, --keyspace, --all-tables, --table, --all-roles, --role, --all-functions,
 * --functions-in-keyspace, --function, --all-mbeans, --mbean; 4.0: `<role> <resource>...`) and ours
 * (--resource), as resource paths in Cassandra's own names (data/ks/table, roles/NAME, functions/ks/fn,
 * mbean/NAME). Checked as nodetool checks them, in its words; a usage error here is exit 2.
 */
import { resourceProblem } from '../types';
import { UsageError } from './exit-codes';

export interface ResourceFlags {
  resource?: string;
  allKeyspaces?: boolean;
  keyspace?: string;
  allTables?: boolean;
  table?: string;
  allRoles?: boolean;
  role?: string;
  allFunctions?: boolean;
  functionsInKeyspace?: string;
  function?: string;
  allMbeans?: boolean;
  mbean?: string;
}

/** The resources named, in nodetool's order; [] when none. Throws UsageError for what nodetool refuses. */
export function permissionResources(role: string | undefined, positional: readonly string[], f: ResourceFlags): string[] {
  const out: string[] = [...positional];
  if (f.resource !== undefined) out.push(f.resource);
  if (f.allKeyspaces === true) out.push('data');
  if (f.allTables === true) {
    if (f.keyspace === undefined) throw new UsageError('--all-tables option should be passed along with --keyspace option');
    out.push(`data/${f.keyspace}`);
  }
  if (f.table !== undefined) {
    if (f.keyspace === undefined) throw new UsageError('--table option should be passed along with --keyspace option');
    out.push(`data/${f.keyspace}/${f.table}`);
  }
  if (f.keyspace !== undefined && f.allTables !== true && f.table === undefined) out.push(`data/${f.keyspace}`);
  if (f.allRoles === true) out.push('roles');
  if (f.role !== undefined) out.push(`roles/${f.role}`);
  if (f.allFunctions === true) out.push('functions');
  if (f.function !== undefined) {
    if (f.functionsInKeyspace === undefined) throw new UsageError('--function option should be passed along with --functions-in-keyspace option');
    out.push(`functions/${f.functionsInKeyspace}/${f.function}`);
  } else if (f.functionsInKeyspace !== undefined) out.push(`functions/${f.functionsInKeyspace}`);
  if (f.allMbeans === true) out.push('mbean');
  if (f.mbean !== undefined) out.push(`mbean/${f.mbean}`);
  if (role === undefined && out.length > 0) throw new UsageError('No resource options allowed without a <role> being specified');
  for (const r of out) {
    const problem = resourceProblem(r);
    if (problem) throw new UsageError(problem);
  }
  return [...new Set(out)];
}
