import type { ChildProcess } from 'node:child_process';
import { runInThisContext } from 'node:vm';

/**
 * Makes sure no process we spawn outlives the process that spawned it.
 *
 * Under jest the `process` a module sees is a sandbox copy whose 'exit' and signal listeners never fire,
 * and every test file loads its own copy of this module. So the hooks go on the host's real `process`
 * (reached through the vm's main context) and the registry lives there too, shared by every copy.
 */
interface Registry {
  children: Set<ChildProcess>;
  cleanups: Set<() => void>;
}

const KEY = Symbol.for('authcache.testkit.reaper');
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function hostProcess(): NodeJS.Process {
  return runInThisContext('process') as NodeJS.Process;
}

function registry(): Registry {
  const host = hostProcess() as NodeJS.Process & { [KEY]?: Registry };
  const existing = host[KEY];
  if (existing) return existing;
  const created: Registry = { children: new Set(), cleanups: new Set() };
  host[KEY] = created;
  install(host, created);
  return created;
}

function reapAll(reg: Registry): void {
  for (const child of reg.children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  reg.children.clear();
  for (const cleanup of reg.cleanups) {
    try {
      cleanup();
    } catch {
      // best effort at exit
    }
  }
  reg.cleanups.clear();
}

function install(host: NodeJS.Process, reg: Registry): void {
  host.on('exit', () => reapAll(reg));
  for (const signal of SIGNALS) {
    const onSignal = () => {
      // Someone else handles this signal (scripts/cluster.mjs stops its nodes gracefully): leave the
      // children to them; whatever is left is reaped by the 'exit' hook.
      if (host.listenerCount(signal) > 1) return;
      reapAll(reg);
      host.removeListener(signal, onSignal);
      host.kill(host.pid, signal);
    };
    host.on(signal, onSignal);
  }
}

/** SIGKILL `child` when this process exits or dies of SIGINT/SIGTERM/SIGHUP. */
export function track(child: ChildProcess): void {
  const reg = registry();
  reg.children.add(child);
  child.once('exit', () => reg.children.delete(child));
}

/** Run `cleanup` (synchronously) at process exit; returns a function that cancels it. */
export function atExit(cleanup: () => void): () => void {
  const reg = registry();
  reg.cleanups.add(cleanup);
  return () => reg.cleanups.delete(cleanup);
}
