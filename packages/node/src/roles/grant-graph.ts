/**
 * The role-grant graph, pure: which roles a role holds (transitively), who holds a role, and
 * whether a grant would close a cycle. Every role store and the test fakes resolve grants here,
 * so the rules exist once (docs/architecture.md, "Adding a backend").
 */
import type { ResolvedRoles } from './role-store';

/** What the graph needs of one role. */
export interface GrantNode {
  memberOf: readonly string[];
  superuser: boolean;
}

const NO_ROLES: readonly string[] = Object.freeze([]);

/**
 * A breadth-first walk from one role over its grants. The caller feeds it the roles of each
 * frontier (from memory at once, or from a backend one round trip per level), so the sync and
 * async resolvers share every rule: cycles end at the visited set, dropped grants are skipped.
 */
export class GrantWalk {
  private readonly seen = new Map<string, GrantNode>();
  private frontier: string[];
  private pending: string[] = [];

  constructor(private readonly root: string) {
    this.frontier = [root];
  }

  /** The roles to look up next; empty when the walk is complete. */
  next(): string[] {
    return this.frontier;
  }

  /** Records one role of the current frontier; `undefined` when it does not exist (dropped). */
  visit(name: string, node: GrantNode | undefined): void {
    if (node === undefined || this.seen.has(name)) return;
    this.seen.set(name, node);
    for (const g of node.memberOf) if (!this.seen.has(g) && !this.pending.includes(g) && !this.frontier.includes(g)) this.pending.push(g);
  }

  /** Ends the current level. */
  advance(): void {
    this.frontier = this.pending.filter((g) => !this.seen.has(g));
    this.pending = [];
  }

  /** The closure, or null when the root role itself does not exist. */
  result(): ResolvedRoles | null {
    const self = this.seen.get(this.root);
    if (!self) return null;
    let superuser = false;
    for (const n of this.seen.values()) superuser ||= n.superuser;
    if (this.seen.size === 1) return { roles: NO_ROLES as string[], superuser };
    return { roles: [...this.seen.keys()].filter((r) => r !== this.root).sort(), superuser };
  }
}

/** The closure of `name`'s grants over roles held in memory. */
export function resolveGrants(name: string, lookup: (role: string) => GrantNode | undefined): ResolvedRoles | null {
  const walk = new GrantWalk(name);
  for (let level = walk.next(); level.length > 0; level = walk.next()) {
    for (const r of level) walk.visit(r, lookup(r));
    walk.advance();
  }
  return walk.result();
}

/** The closure of `name`'s grants, reading one level of the graph per call of `fetch`. */
export async function resolveGrantsAsync(
  name: string,
  fetch: (roles: string[]) => Promise<Map<string, GrantNode | undefined>>,
): Promise<ResolvedRoles | null> {
  const walk = new GrantWalk(name);
  for (let level = walk.next(); level.length > 0; level = walk.next()) {
    const found = await fetch(level);
    for (const r of level) walk.visit(r, found.get(r));
    walk.advance();
  }
  return walk.result();
}

/** Roles that hold `name` directly or transitively (not `name` itself), sorted. */
export function holdersOf(name: string, roles: Iterable<{ name: string; memberOf: readonly string[] }>): string[] {
  const grantees = new Map<string, string[]>(); // role -> roles it was granted to
  for (const r of roles) for (const g of r.memberOf) grantees.set(g, [...(grantees.get(g) ?? []), r.name]);
  const found = new Set<string>();
  const queue = [name];
  while (queue.length > 0) {
    for (const h of grantees.get(queue.shift()!) ?? []) {
      if (h !== name && !found.has(h)) {
        found.add(h);
        queue.push(h);
      }
    }
  }
  return [...found].sort();
}

/** Why granting `memberOf` to `name` is refused (Cassandra refuses both), or undefined when it is fine. */
export function grantProblem(
  name: string,
  memberOf: readonly string[],
  lookup: (role: string) => GrantNode | undefined,
): string | undefined {
  for (const g of memberOf) {
    if (g === name) return `role ${name} cannot be granted to itself`;
    const resolved = resolveGrants(g, lookup);
    if (!resolved) return `role ${g} does not exist`;
    if (resolved.roles.includes(name)) return `granting ${g} to ${name} would create a circular grant`;
  }
  return undefined;
}

/**
 * The users whose cached answers a change to `name` makes wrong: the role itself, and when its
 * grants or superuser status change (or it is dropped), every role that holds it.
 */
export function needsHolders(before: { memberOf: readonly string[]; superuser: boolean } | null, after: { memberOf: readonly string[]; superuser: boolean } | null): boolean {
  if (before === null || after === null) return before !== after;
  return before.superuser !== after.superuser || !sameSet(before.memberOf, after.memberOf);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}
