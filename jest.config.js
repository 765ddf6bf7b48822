/**
 * Two projects: "unit" (fast, no local pipeline: lambdas, local, simulator, contract and CDK tests) and "e2e"
 * (the local pipeline, the CLI and child processes, in test/e2e). `npm test` runs both; `npm run test:unit` and
 * `npm run test:e2e` run one (`jest --selectProjects`).
 * @type {import('jest').Config}
 */
const shared = {
  testEnvironment: 'node',
  // Type checking runs once in `tsc --noEmit` (npm test); per-file checking here would only slow jest down.
  transform: { '^.+\\.ts$': 'ts-jest' },
  setupFiles: ['<rootDir>/local/emulator/polyfills.ts', '<rootDir>/test/support/lambda-environment.ts'],
};

module.exports = {
  testTimeout: 60000,
  // Jest's default is one worker fewer than the cores: one on a 2-core machine. The e2e files spend much of their
  // time waiting (scaled-clock sleeps, child processes), so two workers nearly halve the suite's wall time there.
  maxWorkers: 2,
  projects: [
    {
      ...shared,
      displayName: 'unit',
      roots: ['<rootDir>/lambdas', '<rootDir>/local', '<rootDir>/simulator', '<rootDir>/test'],
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/e2e/'],
    },
    {
      ...shared,
      displayName: 'e2e',
      roots: ['<rootDir>/test/e2e'],
      testMatch: ['**/*.test.ts'],
    },
  ],
};
