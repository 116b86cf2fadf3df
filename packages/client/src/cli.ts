#!/usr/bin/env node
/** The authctl binary: see cli/main.ts. */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from './cli/main';

function version(): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

// `authctl status | head -1`: a closed pipe ends the output, not the program with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

void main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env }, version()).then(
  (code) => {
    process.exitCode = code;
  },
);
