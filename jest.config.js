// One runner, three speeds: unit (pure, no I/O), integration (emulators on 127.0.0.1),
// host (real cgroups and LXC as root). `npm test` runs all three; select with --selectProjects.
const swc = [
  '@swc/jest',
  { jsc: { parser: { syntax: 'typescript' }, target: 'es2024' }, module: { type: 'es6' } },
];
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  testEnvironment: 'node',
};
export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.mjs',
      globalTeardown: '<rootDir>/test/support/global-teardown.mjs',
    },
    {
      ...common,
      displayName: 'host',
      testMatch: ['<rootDir>/test/host/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/record-setup.mjs',
      globalTeardown: '<rootDir>/test/support/record-teardown.mjs',
    },
  ],
  testTimeout: 30000,
};
