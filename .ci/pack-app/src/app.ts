// What an app writes: every public entry point imported and type-checked under `strict`,
// real calls on the embedded stores, the network stores constructed (never connected).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TableStoreOptions } from '@larder/backend-db';
import { postgresStore } from '@larder/backend-db/postgres';
import { sqliteStore } from '@larder/backend-db/sqlite';
import { memcachedStore } from '@larder/backend-memcached';
import { redisStore } from '@larder/backend-redis';
import { type Cache, CacheError, createCache, MemoryStore, NotIntegerError } from '@larder/core';
import { ChaosStore } from '@larder/core/chaos';
import { createKeyv } from '@larder/keyv';
import { createCache as createCacheManager } from 'cache-manager';

interface User {
  id: number;
  name: string;
}

async function exercise(cache: Cache, label: string): Promise<void> {
  await cache.set('greeting', { text: 'hello' }, { ttl: '5m' });
  const greeting = await cache.get<{ text: string }>('greeting');
  const user = await cache.getOrSet<User>(cache.key('user', 42), async () => ({ id: 42, name: 'Ada' }), {
    ttl: '1h',
  });
  const views = await cache.incr('views');
  await cache.set('name', 'alice');
  const thrown = await cache.incr('name').then(
    () => undefined,
    (error: unknown) => error,
  );
  if (greeting?.text !== 'hello' || user.name !== 'Ada' || views !== 1) {
    throw new Error(`${label}: unexpected values ${JSON.stringify({ greeting, user, views })}`);
  }
  if (!(thrown instanceof NotIntegerError) || !(thrown instanceof CacheError)) {
    throw new Error(`${label}: incr on a string should throw NotIntegerError, got ${String(thrown)}`);
  }
  console.log(`${label}: get, getOrSet, incr ok; incr on a string throws ${thrown.code}`);
}

const dir = mkdtempSync(join(tmpdir(), 'larder-app-'));
try {
  const memory = createCache({ store: new MemoryStore(), prefix: 'app' });
  await exercise(memory, 'MemoryStore');
  await memory.close();

  const sqlite = createCache({ store: sqliteStore({ path: join(dir, 'cache.db') }), prefix: 'app' });
  await exercise(sqlite, 'SqliteStore');
  await sqlite.close();

  const chaos = new ChaosStore(new MemoryStore());
  chaos.mode = 'throw';
  const degraded = createCache({ store: chaos, logger: { warn() {}, error() {} } });
  const miss = await degraded.get('anything');
  console.log(
    `ChaosStore: a failing store reads as ${String(miss)} (${degraded.stats().errors} error counted)`,
  );
  await degraded.close();

  const larder = createCache({ prefix: 'app' });
  const manager = createCacheManager({ stores: [createKeyv(larder)] });
  let loads = 0;
  const load = async (): Promise<User> => ({ id: ++loads, name: 'Ada' });
  await manager.wrap('user:1', load, 60_000);
  const wrapped = await manager.wrap('user:1', load, 60_000);
  if (loads !== 1 || wrapped.name !== 'Ada')
    throw new Error(`cache-manager wrap ran the loader ${loads} times`);
  console.log(
    `@larder/keyv: cache-manager wrap ran the loader once; Larder counted ${larder.stats().sets} set`,
  );
  await larder.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// Type-checked only: these would connect.
export function networkStores(options: TableStoreOptions) {
  return [
    redisStore({ url: 'redis://127.0.0.1:6379', timeout: 500 }),
    memcachedStore({ servers: ['127.0.0.1:11211'] }),
    postgresStore({ connectionString: 'postgres://localhost/app', ...options }),
  ];
}
