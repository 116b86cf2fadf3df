/**
 * Code comments and the README point into docs/architecture.md by section name
 * (`docs/architecture.md, "Membership"`). Each name must still be there, as a heading or a bold
 * label (`**Acks.**`, `- **What the round trip scales with.**`) or a paragraph label (`What would
 * change:`): a renamed section must not leave pointers to nothing. And the README's performance
 * table must be the one the committed bench run wrote.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(__dirname, '..');
const doc = readFileSync(join(root, 'docs', 'architecture.md'), 'utf8');
const SKIP = new Set(['node_modules', 'dist', '.git', 'bench']);
const SOURCE = /\.(ts|mjs|cjs|js|md)$/;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (SKIP.has(name)) return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return SOURCE.test(name) ? [path] : [];
  });
}

/** The section names a text points to: the first quoted name within a few characters of the doc's path. */
export function referencesIn(text: string): string[] {
  const out: string[] = [];
  // A name may wrap onto the comment's next line (` * `): joined with one space.
  for (const m of text.matchAll(/architecture\.md[\s,(*/]{1,10}"([^"]{1,80})"/g)) out.push(m[1]!.replace(/\s*\n\s*(\*\s*)?/g, ' '));
  return out;
}

function labelled(name: string): boolean {
  const lit = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^#+ ${lit}$|\\*\\*${lit}[.:]?\\*\\*|^${lit}:$`, 'm').test(doc);
}

it('finds the references it checks (the rule itself)', () => {
  expect(referencesIn('see (docs/architecture.md, "Membership") and docs/architecture.md ("Acks")')).toEqual(['Membership', 'Acks']);
  expect(referencesIn(' * (docs/architecture.md, "Redis\n * topologies")')).toEqual(['Redis topologies']);
  expect(labelled('Membership')).toBe(true);
  expect(labelled('No such section')).toBe(false);
});

it('every section a comment or the README names exists in docs/architecture.md', () => {
  // This file is left out: its own examples are not references.
  const scanned = [...['packages', 'scripts', 'test', '.ci'].flatMap((d) => files(join(root, d))), join(root, 'README.md')].filter((p) => p !== __filename);
  const missing: string[] = [];
  let found = 0;
  for (const path of scanned) {
    for (const name of referencesIn(readFileSync(path, 'utf8'))) {
      found++;
      if (!labelled(name)) missing.push(`${relative(root, path)}: "${name}"`);
    }
  }
  expect(missing).toEqual([]);
  expect(found).toBeGreaterThan(50);
});

it("the README's performance table is the committed run's (bench/results.md), line for line", () => {
  // The README quotes the last full run: its machine line and table, as `pnpm bench` wrote them.
  const results = readFileSync(join(root, 'bench', 'results.md'), 'utf8').split('\n');
  const readme = readFileSync(join(root, 'README.md'), 'utf8').split('\n');
  const head = results.findIndex((l) => l.startsWith('Measured '));
  const end = results.findIndex((l, i) => i > head + 2 && !l.startsWith('|'));
  const quoted = results.slice(head, end);
  expect(quoted.length).toBeGreaterThan(10);
  const at = readme.indexOf(quoted[0]!);
  expect(at).toBeGreaterThan(-1);
  expect(readme.slice(at, at + quoted.length)).toEqual(quoted);
});
