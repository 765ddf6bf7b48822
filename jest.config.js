/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/lambdas', '<rootDir>/local', '<rootDir>/simulator', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Type checking runs once in `tsc --noEmit` (npm test); per-file checking here would only slow jest down.
  transform: { '^.+\\.ts$': 'ts-jest' },
  setupFiles: ['<rootDir>/local/emulator/polyfills.ts', '<rootDir>/test/support/lambda-environment.ts'],
  testTimeout: 60000,
};
