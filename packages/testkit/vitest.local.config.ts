import { defineConfig } from 'vitest/config';

// throwaway: runs only this package's tests until the root config wires the global setup
export default defineConfig({
  test: {
    include: ['packages/testkit/test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
