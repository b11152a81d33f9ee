import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteStore } from '@larder/backend-db/sqlite';
import { redisStore } from '@larder/backend-redis';
import { type CacheLogger, createCache } from '@larder/core';
import { type RedisServerHandle, startRedis } from '@larder/testkit';
import { serverInfo } from '@larder/testkit/vitest';
import type { SessionData } from 'express-session';
import { afterAll, describe, expect, it } from 'vitest';
import { LarderSessionStore } from '../src/index.js';

const quietLogger: CacheLogger = { warn: () => {}, error: () => {} };
const call = <T>(fn: (cb: (error?: unknown, value?: T) => void) => void) =>
  new Promise<T>((resolve, reject) => fn((error, value) => (error ? reject(error) : resolve(value as T))));
const data = (user: string): SessionData =>
  ({ user, cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000) } }) as never;

let redis: RedisServerHandle | undefined;
const dir = mkdtempSync(join(tmpdir(), 'larder-durable-'));
afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf('unavailable' in serverInfo('redis'))('durable sessions (Django cached_db)', () => {
  it('survive a Redis kill and restart, read from the durable cache; without durable they are lost', async () => {
    redis = await startRedis({ useEnv: false });
    const options = {
      logger: quietLogger,
      ignoreErrors: false,
      timeout: 300,
      circuitBreaker: false as const,
    };
    const cache = createCache({ ...options, store: redisStore({ url: redis.url }) });
    const durable = createCache({ ...options, store: sqliteStore({ path: join(dir, 'sessions.db') }) });
    const store = new LarderSessionStore({ cache, durable });
    const plain = new LarderSessionStore({ cache, namespace: 'plain' });
    await call((cb) => store.set('kept', data('ann'), cb));
    await call((cb) => plain.set('lost', data('bob'), cb));

    await redis.kill();
    // Redis is down: reads fall back to the durable copy; the plain store fails loudly.
    expect(await call((cb) => store.get('kept', cb))).toMatchObject({ user: 'ann' });
    await expect(call((cb) => plain.get('lost', cb))).rejects.toThrow(/session read failed/);
    // A write while Redis is down still holds: the durable copy is the one that must succeed.
    await call((cb) => store.set('kept', { ...data('ann'), visits: 2 } as never, cb));

    await redis.restart(); // an empty Redis
    // The client reconnects on its own backoff: wait (bounded) until it answers again.
    const until = performance.now() + 5000;
    while (
      !(await cache.has('probe').then(
        () => true,
        () => false,
      )) &&
      performance.now() < until
    ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await call((cb) => plain.get('lost', cb))).toBeNull();
    expect(await call((cb) => store.get('kept', cb))).toMatchObject({ user: 'ann', visits: 2 });
    // The read refilled Redis: with the durable cache gone, the session still reads.
    const fromRedisOnly = new LarderSessionStore({ cache });
    expect(await call((cb) => fromRedisOnly.get('kept', cb))).toMatchObject({ user: 'ann' });
    await call((cb) => store.destroy('kept', cb));
    expect(await call((cb) => store.get('kept', cb))).toBeNull();
    await cache.close();
    await durable.close();
  }, 30_000);
});
