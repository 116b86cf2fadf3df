/**
 * One write for the commands of one publish (docs/architecture.md, "Propagation", Publish): the
 * members check and the publish script are sent in the same tick on the same connection; with its
 * socket corked they leave in one write instead of one syscall each, which on a busy machine is a
 * good share of a publish's cost. Uncorked on the next tick, before any reply can be awaited; the
 * order of the commands is the order they were sent, as without it.
 */
interface Corkable {
  stream?: { cork?: () => void; uncork?: () => void; writable?: boolean } | null;
}

/** Runs `f` with `conn`'s socket corked (a connection without one, e.g. a Redis Cluster client, runs it as is). */
export function corked<T>(conn: unknown, f: () => T): T {
  const s = (conn as Corkable).stream;
  if (!s || typeof s.cork !== 'function' || typeof s.uncork !== 'function' || s.writable === false) return f();
  s.cork();
  try {
    return f();
  } finally {
    process.nextTick(() => s.uncork!());
  }
}
