import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { postgresStore } from '@larder/backend-db/postgres';
import { redisStore } from '@larder/backend-redis';
import { type Cache, createCache } from '@larder/core';
import { LarderSessionStore } from '@larder/session';
import { createShop } from './app.js';
import { openDb, type ShopDb } from './db.js';

/** How to run the shop. */
export interface ShopConfig {
  databaseUrl: string;
  redisUrl: string;
  /** The Postgres schema of the shop's tables. @default 'shop' */
  schema?: string;
  /** `'full'`: page cache and fragments; `'fragments'`: fragments only; `'off'`: every page from the database. @default 'full' */
  caching?: 'full' | 'fragments' | 'off';
  /** Keep sessions in Postgres too, so a Redis restart logs no one out. @default false */
  durable?: boolean;
  /** Port to listen on (0: any free one). @default 0 */
  port?: number;
  /** Key prefix in Redis. @default 'shop' */
  prefix?: string;
}

/** A running shop and what it holds open. */
export interface RunningShop {
  url: string;
  port: number;
  db: ShopDb;
  cache: Cache;
  server: Server;
  close(): Promise<void>;
}

/** Wires the shop to Postgres and Redis and starts it. */
export async function startShop(config: ShopConfig): Promise<RunningShop> {
  const schema = config.schema ?? 'shop';
  const db = openDb(config.databaseUrl, schema);
  const prefix = config.prefix ?? 'shop';
  const cache = createCache({ store: redisStore({ url: config.redisUrl }), prefix, timeout: 300 });
  // Sessions fail closed: a store failure is an error, never a silently lost login.
  const sessionCache = createCache({
    store: redisStore({ url: config.redisUrl }),
    prefix,
    ignoreErrors: false,
    timeout: 300,
    circuitBreaker: false,
  });
  const durable = config.durable
    ? createCache({
        store: postgresStore({ connectionString: config.databaseUrl, table: `${schema}.larder_sessions` }),
        prefix,
        ignoreErrors: false,
      })
    : undefined;
  const sessions = new LarderSessionStore({ cache: sessionCache, durable });
  const app = createShop({
    db,
    cache: config.caching === 'off' ? undefined : cache,
    pageCache: config.caching !== 'fragments',
    sessions,
    secret: 'example-shop-secret-change-me',
  });
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(config.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    db,
    cache,
    server,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([cache.close(), sessionCache.close(), durable?.close(), db.close()]);
    },
  };
}
