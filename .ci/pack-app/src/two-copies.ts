// The app holds @larder/core 0.1.1; @larder/backend-db was built against 0.1.0. With core a
// peer there is one copy: the backend's errors are the app's classes, so a programmer error
// (incr on a string) throws NotIntegerError instead of being logged as a store outage.
import { createRequire } from 'node:module';
import { sqliteStore } from '@larder/backend-db/sqlite';
import { createCache, NotIntegerError } from '@larder/core';

const require = createRequire(import.meta.url);
const appCore = require.resolve('@larder/core');
const backendCore = createRequire(require.resolve('@larder/backend-db/sqlite')).resolve('@larder/core');
const appVersion = (require('@larder/core/package.json') as { version: string }).version;
if (appCore !== backendCore) throw new Error(`two copies of @larder/core: ${appCore} and ${backendCore}`);

const logged: string[] = [];
const log = (object: Record<string, unknown>, message: string) => {
  const code = (object.err as { code?: string } | undefined)?.code ?? '';
  logged.push(`${code} ${message}`);
};
const cache = createCache({ store: sqliteStore(), logger: { warn: log, error: log } });
await cache.set('name', 'alice');
const thrown = await cache.incr('name').then(
  () => undefined,
  (error: unknown) => error,
);
await cache.close();
if (!(thrown instanceof NotIntegerError)) {
  throw new Error(
    `incr on a string: expected NotIntegerError, got ${String(thrown)}; logged: ${logged.join('; ')}`,
  );
}
if (logged.some((line) => line.includes('E_STORE_UNAVAILABLE'))) {
  throw new Error(`a programmer error was logged as a store outage: ${logged.join('; ')}`);
}
console.log(
  `one @larder/core (${appVersion}) shared with @larder/backend-db (built on 0.1.0); incr on a string throws ${thrown.code}`,
);
