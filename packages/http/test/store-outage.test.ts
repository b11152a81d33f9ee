import { createServer, type Server } from 'node:http';
import { redisStore } from '@larder/backend-redis';
import { type CacheLogger, createCache } from '@larder/core';
import { type RedisServerHandle, startRedis } from '@larder/testkit';
import { randomPrefix, sleep } from '@larder/testkit/helpers';
import { serverInfo } from '@larder/testkit/vitest';
import { afterAll, describe, expect, it } from 'vitest';
import { cachePage, varyOn } from '../src/index.js';
import { close, listen, send } from './client.js';

const quietLogger: CacheLogger = { warn: () => {}, error: () => {} };
const hasRedis = !('unavailable' in serverInfo('redis'));
let redis: RedisServerHandle | undefined;
let server: Server | undefined;
afterAll(async () => {
  if (server) await close(server);
  await redis?.stop();
});

describe.skipIf(!hasRedis)('page cache while Redis dies and comes back', () => {
  it('keeps serving every page (uncached while Redis is down), never a 5xx, and caches again after', async () => {
    redis = await startRedis({ useEnv: false });
    const cache = createCache({
      store: redisStore({ url: redis.url }),
      prefix: randomPrefix('outage'),
      logger: quietLogger,
      timeout: 200,
      circuitBreaker: { failures: 3, cooldown: 200 },
    });
    let renders = 0;
    server = createServer(
      cachePage(
        (req, res) => {
          renders++;
          varyOn(res, 'Accept-Language');
          res.end(`page ${req.url} ${req.headers['accept-language']}`);
        },
        { cache },
      ),
    );
    const port = await listen(server);
    const statuses = new Map<number, number>();
    const verdicts = new Map<string, number>();
    let stop = false;
    const load = (async () => {
      let i = 0;
      while (!stop) {
        const path = `/p${i++ % 5}`;
        const reply = await send(port, path, { 'Accept-Language': 'en' });
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        verdicts.set(
          String(reply.headers['x-cache']),
          (verdicts.get(String(reply.headers['x-cache'])) ?? 0) + 1,
        );
        if (reply.body !== `page ${path} en`) throw new Error(`wrong body ${reply.body}`);
      }
    })();
    await sleep(300);
    const hitsBefore = verdicts.get('HIT') ?? 0;
    await redis.kill();
    await sleep(1200);
    const rendersDuringOutage = renders;
    await redis.restart();
    await sleep(1200);
    stop = true;
    await load;
    expect(hitsBefore).toBeGreaterThan(0);
    expect([...statuses.keys()]).toEqual([200]);
    expect(renders).toBeGreaterThan(rendersDuringOutage - 1);
    // After the restart the cache fills again and serves hits.
    const after = await send(port, '/p1', { 'Accept-Language': 'en' });
    expect(after.headers['x-cache']).toBe('HIT');
    await cache.close();
  }, 30_000);
});
