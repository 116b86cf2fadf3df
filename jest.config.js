/** Unit tests live beside each package (packages/x/test), cross-process tests in test/.
 *  Tests import workspace packages from source; node processes run from dist (pnpm build first). */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }] },
  moduleNameMapper: { '^@authcache/(protocol|node|client|testkit)$': '<rootDir>/packages/$1/src' },
  testMatch: ['<rootDir>/packages/*/test/**/*.test.ts', '<rootDir>/test/**/*.test.ts'],
  testTimeout: 30000,
  maxWorkers: 2,
  // A worker's own JavaScript is done within 1 ms of jest's "end" message (no handle is left open),
  // but the process then takes 0.5-0.9 s to be gone on this VM: it holds ~800 MB (every test file's
  // modules) to tear down. Jest's default of 500 ms reported that as "failed to exit gracefully".
  workerGracefulExitTimeout: 5000,
};
