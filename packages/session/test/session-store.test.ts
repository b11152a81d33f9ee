import { createHash } from 'node:crypto';
import { sqliteStore } from '@larder/backend-db/sqlite';
import { memcachedStore } from '@larder/backend-memcached';
import { redisStore } from '@larder/backend-redis';
import {
  type Cache,
  CacheConfigError,
  type CacheLogger,
  createCache,
  InvalidTtlError,
  MemoryStore,
} from '@larder/core';
import { ChaosStore } from '@larder/core/testing';
import { randomPrefix } from '@larder/testkit/helpers';
import { serverInfo } from '@larder/testkit/vitest';
import type { SessionData } from 'express-session';
import { afterAll, describe, expect, it } from 'vitest';
import { LarderSessionStore, SessionStoreError } from '../src/index.js';
import { client, sessionApp, sidOf } from './app.js';

const logLines: string[] = [];
const capturingLogger: CacheLogger = {
  warn: (...args: unknown[]) => logLines.push(JSON.stringify(args)),
  error: (...args: unknown[]) => logLines.push(JSON.stringify(args)),
};

const call = <T>(fn: (cb: (error?: unknown, value?: T) => void) => void) =>
  new Promise<T>((resolve, reject) => fn((error, value) => (error ? reject(error) : resolve(value as T))));

const data = (user: string, maxAge = 60_000): SessionData =>
  ({ user, cookie: { originalMaxAge: maxAge, maxAge, expires: new Date(Date.now() + maxAge) } }) as never;

interface Backend {
  name: string;
  available: boolean;
  make: () => Cache;
}

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
});

function track(cache: Cache): Cache {
  closers.push(async () => {
    await cache.clear();
    await cache.close();
  });
  return cache;
}

const backends: Backend[] = [
  {
    name: 'memory',
    available: true,
    make: () => track(createCache({ store: new MemoryStore(), ignoreErrors: false })),
  },
  {
    name: 'sqlite',
    available: true,
    make: () => track(createCache({ store: sqliteStore({ path: ':memory:' }), ignoreErrors: false })),
  },
  {
    name: 'redis',
    available: !('unavailable' in serverInfo('redis')),
    make: () => {
      const info = serverInfo('redis') as { url: string };
      return track(
        createCache({
          store: redisStore({ url: info.url }),
          prefix: randomPrefix('sess'),
          ignoreErrors: false,
        }),
      );
    },
  },
  {
    name: 'memcached',
    available: !('unavailable' in serverInfo('memcached')),
    make: () => {
      const info = serverInfo('memcached') as { url: string };
      return track(
        createCache({
          store: memcachedStore({ servers: info.url }),
          prefix: randomPrefix('sess'),
          ignoreErrors: false,
        }),
      );
    },
  },
];

for (const backend of backends) {
  describe.skipIf(!backend.available)(`LarderSessionStore on ${backend.name}`, () => {
    it("stores, reads, touches and destroys sessions with the cookie's lifetime", async () => {
      const cache = backend.make();
      const store = new LarderSessionStore({ cache });
      await call((cb) => store.set('sid-1', data('ann', 30_000), cb));
      expect(await call((cb) => store.get('sid-1', cb))).toMatchObject({ user: 'ann' });
      expect(await call((cb) => store.get('unknown', cb))).toBeNull();
      await call((cb) => store.touch('sid-1', data('ann', 120_000), cb));
      await call((cb) => store.destroy('sid-1', cb));
      expect(await call((cb) => store.get('sid-1', cb))).toBeNull();
    });

    it('lists sessions (all, length, ids) where the store can list keys, else says it cannot', async () => {
      const cache = backend.make();
      const store = new LarderSessionStore({ cache });
      await call((cb) => store.set('a-sid', data('ann'), cb));
      await call((cb) => store.set('b-sid', data('bob'), cb));
      if (cache.store.capabilities.listKeys === true) {
        expect((await call<string[]>((cb) => store.ids(cb))).sort()).toEqual(['a-sid', 'b-sid']);
        expect(await call<number>((cb) => store.length(cb))).toBe(2);
        const all = await call<Record<string, SessionData>>((cb) => store.all(cb));
        expect((all['b-sid'] as { user?: string } | undefined)?.user).toBe('bob');
      } else {
        await expect(call((cb) => store.length(cb))).rejects.toThrow(CacheConfigError);
        await expect(call((cb) => store.ids(cb))).rejects.toThrow(/cannot list its keys/);
        await expect(call((cb) => store.all(cb))).rejects.toThrow(/cannot list its keys/);
      }
      await call((cb) => store.clear(cb));
      expect(await call((cb) => store.get('a-sid', cb))).toBeNull();
    });
  });
}

describe('LarderSessionStore in express-session', () => {
  it('logs in, keeps the session, issues a fresh id at login, and ends it at logout', async () => {
    const cache = createCache({ ignoreErrors: false });
    const store = new LarderSessionStore({ cache });
    const app = await sessionApp(store);
    try {
      const browser = client(app.base);
      browser.cookie = 'connect.sid=s%3Aattacker123.forged';
      expect((await browser.get('/login?user=ann')).text).toBe('hello ann');
      const sid = sidOf(browser.cookie);
      expect(sid).not.toBe('attacker123');
      expect(sid.length).toBeGreaterThanOrEqual(24);
      expect((await browser.get('/me')).text).toBe('ann 1');
      expect((await browser.get('/me')).text).toBe('ann 2');
      const ttl = await cache.namespace('sessions').ttl(hashOf(sid));
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
      expect((await browser.get('/logout')).text).toBe('bye');
      expect((await browser.get('/peek')).text).toBe('anon');
      expect(await call((cb) => store.get(sid, cb))).toBeNull();
    } finally {
      await app.close();
    }
  });

  it('the old id stays dead after a login regenerates it', async () => {
    const store = new LarderSessionStore({ cache: createCache({ ignoreErrors: false }) });
    const app = await sessionApp(store);
    try {
      const browser = client(app.base);
      await browser.get('/login?user=ann');
      const first = browser.cookie;
      await browser.get('/login?user=ann');
      expect(browser.cookie).not.toBe(first);
      const replay = client(app.base);
      replay.cookie = first;
      expect((await replay.get('/peek')).text).toBe('anon');
    } finally {
      await app.close();
    }
  });

  it('a failed write reaches express-session as an error (500), fast, without the session id in any message or log', async () => {
    const chaos = new ChaosStore(new MemoryStore());
    const cache = createCache({ store: chaos, logger: capturingLogger, timeout: 200 });
    const store = new LarderSessionStore({ cache });
    const app = await sessionApp(store);
    try {
      const browser = client(app.base);
      await browser.get('/login?user=ann');
      const sid = sidOf(browser.cookie);
      chaos.mode = 'throw';
      const started = performance.now();
      const failed = await browser.get('/login?user=bob');
      expect(performance.now() - started).toBeLessThan(1000);
      expect(failed.status).toBe(500);
      expect(failed.text).toMatch(/session .* failed/);
      expect(failed.text).not.toContain(sid);
      // A server that stops answering: the write fails at the cache's deadline, not later.
      chaos.mode = 'hang';
      const hangStarted = performance.now();
      const hung = await call((cb) => store.set(sid, data('x'), cb)).catch((e: unknown) => e);
      expect(performance.now() - hangStarted).toBeLessThan(1000);
      expect(hung).toBeInstanceOf(SessionStoreError);
      chaos.release();
      chaos.mode = 'pass';
      await new Promise((resolve) => setTimeout(resolve, 1100)); // the circuit breaker's cooldown
      expect(logLines.length).toBeGreaterThan(0);
      for (const line of logLines) expect(line).not.toContain(sid);
      const error = await call((cb) => store.set(sid, data('x'), (e) => cb(e))).catch((e: unknown) => e);
      expect(error).toBeUndefined();
      chaos.mode = 'throw';
      const callsBefore = chaos.calls;
      const thrown = await call((cb) => store.set(sid, data('x'), cb)).catch((e: unknown) => e);
      expect(thrown).toBeInstanceOf(SessionStoreError);
      expect(String((thrown as Error).message)).not.toContain(sid);
      expect(JSON.stringify(thrown)).not.toContain(sid);
      // One attempt per write: no retry loop against a dead server.
      expect(chaos.calls - callsBefore).toBeLessThanOrEqual(1);
    } finally {
      await app.close();
    }
  });

  it('disableTouch leaves the lifetime alone; touch extends it', async () => {
    const cache = createCache({ ignoreErrors: false });
    const key = (sid: string) => cache.namespace('sessions').ttl(hashOf(sid));
    const touching = new LarderSessionStore({ cache });
    const still = new LarderSessionStore({ cache, disableTouch: true });
    await call((cb) => touching.set('t1', data('a', 10_000), cb));
    await call((cb) => touching.touch('t1', data('a', 100_000), cb));
    expect(await key('t1')).toBeGreaterThan(90_000);
    await call((cb) => still.set('t2', data('a', 10_000), cb));
    await call((cb) => still.touch('t2', data('a', 100_000), cb));
    expect(await key('t2')).toBeLessThanOrEqual(10_000);
  });

  it('uses the ttl option when the cookie has no lifetime, and throws at set-up on bad options', async () => {
    const cache = createCache({ ignoreErrors: false });
    const store = new LarderSessionStore({ cache, ttl: '2m' });
    await call((cb) => store.set('n1', { user: 'a', cookie: {} } as never, cb));
    const ttl = await cache.namespace('sessions').ttl(hashOf('n1'));
    expect(ttl).toBeGreaterThan(110_000);
    expect(ttl).toBeLessThanOrEqual(120_000);
    expect(() => new LarderSessionStore({ cache, ttl: -1 })).toThrow(InvalidTtlError);
    expect(() => new LarderSessionStore({ cache, ttl: -1 })).toThrow(/LarderSessionStore option ttl/);
    expect(() => new LarderSessionStore({} as never)).toThrow(/option cache is required/);
    expect(() => new LarderSessionStore({ cache, durable: {} as never })).toThrow(/option durable/);
    expect(() => new LarderSessionStore({ cache, disabletouch: true } as never)).toThrow(
      /did you mean disableTouch/,
    );
  });
});

function hashOf(sid: string): string {
  return createHash('sha256').update(sid).digest('base64url');
}
