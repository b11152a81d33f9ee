import { randomBytes } from 'node:crypto';
import { startPostgres, startRedis } from '@larder/testkit';
import autocannon from 'autocannon';
import { dropSchema, seed } from './db.js';
import { warmShop } from './warm.js';
import { type RunningShop, startShop } from './wiring.js';

/**
 * `pnpm demo`: the shop's product list under load with the cache off and on, on this machine.
 * Starts Postgres and Redis through the testkit, seeds 10,000 products, and prints requests/s,
 * p50/p99 latency, database queries per request and the database load the cache removed.
 */
const seconds = Number(process.env.DEMO_SECONDS ?? 5);
const connections = Number(process.env.DEMO_CONNECTIONS ?? 10);

interface Row {
  label: string;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  queriesPerRequest: number;
  requests: number;
  non2xx: number;
}

// Ten variants of the list page: pages 1 to 5, in English and French.
const variants = [1, 2, 3, 4, 5].flatMap((page) =>
  ['en', 'fr'].map((lang) => ({
    method: 'GET' as const,
    path: `/products?page=${page}`,
    headers: { 'accept-language': lang },
  })),
);

async function measure(label: string, shop: RunningShop): Promise<Row> {
  // One request per variant first, so the run below measures the steady state.
  for (const variant of variants) await fetch(shop.url + variant.path, { headers: variant.headers });
  const before = shop.db.queries;
  const result = await autocannon({ url: shop.url, connections, duration: seconds, requests: variants });
  const requests = result.requests.total;
  return {
    label,
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    queriesPerRequest: (shop.db.queries - before) / Math.max(1, requests),
    requests,
    non2xx: result.non2xx + result.errors,
  };
}

const postgres = await startPostgres();
const redis = await startRedis();
const schema = `shop_demo_${randomBytes(3).toString('hex')}`;
const prefix = `shopdemo${randomBytes(3).toString('hex')}`;
const shops: RunningShop[] = [];
try {
  const seeding = performance.now();
  await seed(postgres.url, schema, 10_000);
  console.log(
    `Postgres ${postgres.version} and Redis ${redis.version} (${postgres.source}/${redis.source}); seeded 10,000 products in ${((performance.now() - seeding) / 1000).toFixed(1)} s`,
  );
  console.log(`autocannon: ${connections} connections, ${seconds} s per run, 10 list-page variants\n`);

  const base = { databaseUrl: postgres.url, redisUrl: redis.url, schema, prefix };
  const off = await startShop({ ...base, caching: 'off' });
  shops.push(off);
  const uncached = await measure('cache off', off);
  await off.close();
  shops.pop();

  // Fragments alone: what a page that cannot be cached whole (a per-user one) still gains.
  const fragmentsOnly = await startShop({ ...base, caching: 'fragments' });
  shops.push(fragmentsOnly);
  const warmed = await warmShop(fragmentsOnly.db, fragmentsOnly.cache, 5);
  console.log(
    `warm: ${warmed.written} fragments written, ${warmed.failed} failed, in ${warmed.ms.toFixed(0)} ms`,
  );
  const fragments = await measure('fragments only', fragmentsOnly);
  await fragmentsOnly.close();
  shops.pop();

  const on = await startShop({ ...base, caching: 'full' });
  shops.push(on);
  const cached = await measure('cache on (page cache + fragments)', on);

  const rows = [uncached, fragments, cached];
  const table = rows.map((row) => ({
    run: row.label,
    'requests/s': row.requestsPerSecond.toFixed(0),
    'p50 ms': row.p50.toFixed(1),
    'p99 ms': row.p99.toFixed(1),
    'DB queries/request': row.queriesPerRequest.toFixed(2),
    requests: row.requests,
    'non-2xx/errors': row.non2xx,
  }));
  console.table(table);
  const reduction = 1 - cached.queriesPerRequest / uncached.queriesPerRequest;
  console.log(
    `database load reduction: ${(reduction * 100).toFixed(1)} % fewer queries per request; ` +
      `throughput ×${(cached.requestsPerSecond / uncached.requestsPerSecond).toFixed(1)}; ` +
      `p50 ${uncached.p50.toFixed(1)} ms → ${cached.p50.toFixed(1)} ms`,
  );
  const hits = on.cache.stats();
  console.log(
    `cache: ${hits.hits} hits, ${hits.misses} misses, hit rate ${(hits.hitRate * 100).toFixed(1)} %`,
  );
  await on.cache.clear();
} finally {
  for (const shop of shops) await shop.close();
  await dropSchema(postgres.url, schema).catch(() => {});
  await redis.stop();
  await postgres.stop();
}
