import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(`./packages/${path}`, import.meta.url));

// Tests run against the TypeScript sources, so `pnpm test` needs no build first.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@larder\/core\/store-kit$/, replacement: src('core/src/store-kit.ts') },
      { find: /^@larder\/core\/chaos$/, replacement: src('core/src/chaos.ts') },
      { find: /^@larder\/core\/testing$/, replacement: src('core/src/testing/index.ts') },
      { find: /^@larder\/core$/, replacement: src('core/src/index.ts') },
      { find: /^@larder\/keyv$/, replacement: src('keyv/src/index.ts') },
      { find: /^@larder\/testkit\/helpers$/, replacement: src('testkit/src/helpers.ts') },
      { find: /^@larder\/testkit\/vitest$/, replacement: src('testkit/src/vitest.ts') },
      { find: /^@larder\/testkit$/, replacement: src('testkit/src/index.ts') },
      { find: /^@larder\/backend-redis$/, replacement: src('backend-redis/src/index.ts') },
      { find: /^@larder\/backend-memcached$/, replacement: src('backend-memcached/src/index.ts') },
      { find: /^@larder\/backend-db\/postgres$/, replacement: src('backend-db/src/postgres.ts') },
      { find: /^@larder\/backend-db\/sqlite$/, replacement: src('backend-db/src/sqlite.ts') },
      { find: /^@larder\/backend-db$/, replacement: src('backend-db/src/index.ts') },
      { find: /^@larder\/metrics$/, replacement: src('metrics/src/index.ts') },
      { find: /^@larder\/cli$/, replacement: src('cli/src/index.ts') },
      { find: /^@larder\/http$/, replacement: src('http/src/index.ts') },
      { find: /^@larder\/session$/, replacement: src('session/src/index.ts') },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    // One Redis, Memcached and Postgres per run, shared by every suite (see @larder/testkit).
    globalSetup: ['packages/testkit/src/vitest-global-setup.ts'],
    testTimeout: 20_000,
    // Under CI every skipped test is checked against .ci/allowed-skips: a skip may only mean
    // "does not apply to this backend", never "could not prove the promise here".
    reporters:
      process.env.CI === 'true'
        ? ['default', ['json', { outputFile: '.larder-tmp/vitest-results.json' }]]
        : ['default'],
    hookTimeout: 60_000,
  },
});
