import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ['tests/globalSetup.ts'],
    setupFiles: ['tests/support/collectSecrets.ts'],
    pool: 'forks',
  },
});
