import { redisStore } from '@larder/backend-redis';
import { createCache } from '@larder/core';
import { openDb } from './db.js';
import { warmShop } from './warm.js';

// `pnpm --filter @larder/example-shop warm`: fills the fragment cache after a deploy.
const db = openDb(
  process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  process.env.SCHEMA ?? 'shop',
);
const cache = createCache({
  store: redisStore({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }),
  prefix: 'shop',
});
const result = await warmShop(db, cache, Number(process.env.PAGES ?? 5));
console.log(
  `warmed ${result.written} fragments (${result.failed} failed, ${result.skipped} skipped) in ${result.ms.toFixed(0)} ms${result.stoppedEarly ? `; stopped early: ${result.stoppedEarly}` : ''}`,
);
await cache.close();
await db.close();
