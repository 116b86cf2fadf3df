/**
 * The README's fenced examples, for test/readme-examples.test.ts: which are run, which are only
 * checked, and how an example's documented answers are matched against what it printed.
 *
 * Conventions (the README's own, stated here because the test enforces them):
 * - ```bash  is run, in README order, against one cluster, after the lines `pnpm start` prints.
 *   A block starting with `#!/bin/bash` and `# NAME.sh ARGS` is a runbook: saved as NAME.sh, run as a file.
 *   A comment line `# {...}` or `# [...]` is the answer the command above it prints; `...` stands
 *   for anything. Comments like `# 201 created` or `# Prometheus text` are prose, not checked.
 * - ```sh    needs what a test cannot have (Docker, a long run, the test suite itself, a Sentinel or
 *   Redis Cluster deployment): not run, but each command must name a pnpm script, a file or a compose
 *   service that exists, and a node it starts (`node packages/node/dist/main.js`) must be given an
 *   environment the node's configuration accepts, naming only variables it reads (nodeEnvironments).
 * - ```text, or no language: output or syntax shown to a reader; not run.
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Block {
  lang: string;
  /** 1-based line of the opening fence */
  line: number;
  text: string;
}

export function fencedBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    blocks.push({ lang: open[1]!, line: start + 1, text: body.join('\n') });
  }
  return blocks;
}

/** `#!/bin/bash` then `# name.sh ...`: the file name the README tells the reader to save it as. */
export function runbookName(block: Block): string | undefined {
  const [first, second] = block.text.split('\n');
  if (first !== '#!/bin/bash') return undefined;
  return /^#\s+(\S+\.sh)\b/.exec(second ?? '')?.[1];
}

/** The documented answers of a block, in order, as whole-line patterns. */
export function expectedAnswers(block: Block): Array<{ text: string; pattern: RegExp }> {
  return block.text
    .split('\n')
    .map((l) => /^\s*# ([{[].*)$/.exec(l)?.[1])
    .filter((t): t is string => t !== undefined)
    .map((text) => {
      const parts = text.split('...').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
      return { text, pattern: new RegExp(`^${parts.join('.*?')}$`) };
    });
}

/** Each documented answer must be printed, in the documented order; returns what was not found. */
export function missingAnswers(block: Block, stdoutLines: readonly string[]): string[] {
  const missing: string[] = [];
  let at = 0;
  for (const e of expectedAnswers(block)) {
    const found = stdoutLines.findIndex((l, i) => i >= at && e.pattern.test(l));
    if (found < 0) missing.push(e.text);
    else at = found + 1;
  }
  return missing;
}

/** The commands of a block, without comments, continuation lines joined. */
function commands(text: string): string[] {
  return text
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter((l) => l !== '');
}

const PNPM_BUILTINS = new Set(['install', 'i', 'add', 'exec', 'dlx']);

/** Problems with one not-run (```sh) block; empty when every command names something that exists. */
export function checkNotRun(block: Block, root: string): string[] {
  const scripts = Object.keys((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: object }).scripts);
  const servicesOf = (file: string) => [...readFileSync(join(root, file), 'utf8').matchAll(/^ {2}([a-z0-9_-]+):\s*$/gm)].map((m) => m[1]);
  const problems: string[] = [];
  for (const cmd of commands(block.text)) {
    // $(...) is one word here; leading VAR=value assignments set the environment of the command.
    const words = cmd
      .replace(/\$\([^)]*\)/g, 'SUBSTITUTED')
      .replace(/^(?:[A-Z_][A-Z0-9_]*=\S+\s+)+/, '')
      .split(/\s+/);
    const say = (why: string) => problems.push(`README line ${block.line}: ${cmd}: ${why}`);
    if (words[0] === 'export') {
      if (!words.slice(1).every((w) => /^[A-Z_][A-Z0-9_]*=/.test(w))) say('export of something that is not VAR=value');
    } else if (words[0] === 'npx' && words[1] === '-y' && words[2] === 'pnpm@10') {
      const script = words[3] === '-s' ? words[4] : words[3];
      if (script === undefined || (!scripts.includes(script) && !PNPM_BUILTINS.has(script))) say(`no pnpm script ${script}`);
    } else if (words[0] === 'npx' && words[1] === 'jest') {
      for (const p of words.slice(2)) if (!existsSync(join(root, p))) say(`${p} does not exist`);
    } else if (words[0] === 'node') {
      if (!existsSync(join(root, words[1] ?? ''))) say(`${words[1]} does not exist`);
    } else if ((words[0] === 'docker' && words[1] === 'compose') || words[0] === 'docker-compose') {
      let args = words.slice(words[0] === 'docker' ? 2 : 1);
      // `-f FILE` picks another compose file (docker-compose.sentinel.yml): it must exist, and its services count.
      const file = args[0] === '-f' ? args[1] : 'docker-compose.yml';
      if (args[0] === '-f') args = args.slice(2);
      if (!file || !existsSync(join(root, file))) {
        say(`compose file ${file} does not exist`);
        continue;
      }
      const [sub, ...rest] = args;
      if (!['up', 'down', 'exec', 'run', 'config', 'build', 'logs', 'ps', 'kill', 'stop', 'start'].includes(sub ?? '')) say(`unknown compose command ${sub}`);
      const service = rest.find((w) => !w.startsWith('-'));
      if (['exec', 'run', 'kill', 'stop', 'start'].includes(sub ?? '') && !servicesOf(file).includes(service)) say(`no service ${service} in ${file}`);
    } else {
      say('not a command this check knows: make the block ```bash (run by the test) or teach checkNotRun');
    }
  }
  return problems;
}

/** README-wide rules of issue 12: unattended pnpm, and a clean stdout when pnpm runs authctl. */
export function readmeWideProblems(markdown: string): string[] {
  const problems: string[] = [];
  markdown.split('\n').forEach((line, i) => {
    if (/npx\s+(?!-y\s)pnpm/.test(line)) problems.push(`line ${i + 1}: npx without -y stops without a terminal: ${line.trim()}`);
    if (/pnpm(@10)?\s+(?!-s\s)authctl/.test(line)) problems.push(`line ${i + 1}: pnpm without -s prints its banner on stdout: ${line.trim()}`);
  });
  return problems;
}

/** `node packages/node/dist/main.js`: a node started by a not-run block. */
const NODE_MAIN = 'packages/node/dist/main.js';

/**
 * The environment of each node a not-run block starts: its `export` lines so far and the
 * command's own leading assignments. A `$(...)` value stands for a secret read at run time.
 */
export function nodeEnvironments(block: Block): Array<{ line: number; env: Record<string, string> }> {
  const out: Array<{ line: number; env: Record<string, string> }> = [];
  const exported: Record<string, string> = {};
  /** The leading VAR=value words: the variables, and how many words they took. */
  const assignments = (words: string[]) => {
    const env: Record<string, string> = {};
    let count = 0;
    for (const w of words) {
      const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(w);
      if (!m) break;
      env[m[1]!] = m[2]!.replace(/^(['"])(.*)\1$/, '$2');
      count++;
    }
    return { env, count };
  };
  for (const cmd of commands(block.text)) {
    const words = cmd.replace(/\$\([^)]*\)/g, 'SUBSTITUTED-AT-RUN-TIME').split(/\s+/);
    if (words[0] === 'export') {
      Object.assign(exported, assignments(words.slice(1)).env);
      continue;
    }
    const own = assignments(words);
    const rest = words.slice(own.count);
    if (rest[0] === 'node' && rest[1] === NODE_MAIN) out.push({ line: block.line, env: { ...exported, ...own.env } });
  }
  return out;
}
