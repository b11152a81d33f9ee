import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { CacheAuthError, createCache, StorePermissionError } from '@larder/core';
import { describeStoreContract } from '@larder/core/testing';
import { type RedisServerHandle, startRedis } from '@larder/testkit';
import { bytes, timed, trackUnhandled } from '@larder/testkit/helpers';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisStore, redisStore } from '../src/index.js';
import { captureOutput, quietLogger } from './helpers.js';

/** The least-privilege command list documented in the README. */
const LARDER_COMMANDS = [
  'get',
  'mget',
  'set',
  'exists',
  'unlink',
  'pexpire',
  'persist',
  'pttl',
  'incrby',
  'eval',
  'evalsha',
  'scan',
  'info',
  'dbsize',
];
const ADMIN_PASSWORD = `admin-${randomBytes(6).toString('hex')}`;
const LARDER_PASSWORD = `s3cret-${randomBytes(6).toString('hex')}`;
const WRONG_PASSWORD = `wrong-${randomBytes(6).toString('hex')}`;

const text = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : Buffer.from(value).toString();

/** Every rendering of an error a log line or a crash report could contain. */
function renderings(error: unknown): string {
  const err = error as Error;
  return [
    String(err),
    err.message,
    err.stack,
    JSON.stringify(err),
    inspect(err, { depth: 10, showHidden: true }),
  ].join('\n');
}

describe('RedisStore security', () => {
  let server: RedisServerHandle;
  let admin: Redis;
  const port = () => server.port;
  const urlFor = (user: string, password: string) =>
    `redis://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port()}`;

  beforeAll(async () => {
    server = await startRedis({
      requirepass: ADMIN_PASSWORD,
      aclUsers: [
        `larder on >${LARDER_PASSWORD} ~contract-* ~sec:* resetchannels -@all ${LARDER_COMMANDS.map((c) => `+${c}`).join(' ')}`,
        `nounlink on >${LARDER_PASSWORD} ~sec:* resetchannels -@all ${LARDER_COMMANDS.filter(
          (c) => c !== 'unlink',
        )
          .map((c) => `+${c}`)
          .join(' ')}`,
      ],
    });
    admin = new Redis({ port: server.port, password: ADMIN_PASSWORD });
    await admin.acl('LOG', 'RESET');
  });
  afterAll(async () => {
    admin?.disconnect();
    await server?.stop();
  });

  describeStoreContract({
    name: 'RedisStore as a least-privilege ACL user',
    createStore: () => redisStore({ url: urlFor('larder', LARDER_PASSWORD), logger: quietLogger() }),
    maxValueBytesToTest: 64 * 1024,
  });

  it('every store method works as the least-privilege user without a single ACL denial', async () => {
    await admin.acl('LOG', 'RESET');
    const store = redisStore({ url: urlFor('larder', LARDER_PASSWORD), logger: quietLogger() });
    const run = `sec:acl-${randomBytes(4).toString('hex')}:`;
    try {
      await store.set(`${run}a`, bytes('1'), 60_000);
      await store.setMany([
        { key: `${run}b`, value: bytes('2'), ttlMs: 60_000 },
        { key: `${run}c`, value: bytes('3'), ttlMs: 60_000 },
      ]);
      expect(await store.add(`${run}d`, bytes('4'), 60_000)).toBe(true);
      expect(text(await store.get(`${run}a`))).toBe('1');
      expect((await store.getMany([`${run}b`, `${run}c`])).map(text)).toEqual(['2', '3']);
      expect(await Promise.all([store.has(`${run}a`), store.has(`${run}zz`)])).toEqual([true, false]);
      expect(await store.incr(`${run}n`, 5, 60_000)).toBe(5);
      expect(await store.touch(`${run}a`, 120_000)).toBe(true);
      expect(await store.ttl(`${run}a`)).toBeGreaterThan(60_000);
      const listed: string[] = [];
      for await (const key of store.keys(run)) listed.push(key);
      expect(listed.sort()).toEqual(['a', 'b', 'c', 'd', 'n'].map((k) => `${run}${k}`));
      expect((await store.info()).items).toBeGreaterThan(0);
      expect(await store.delete(`${run}d`)).toBe(true);
      expect(await store.deleteMany([`${run}b`, `${run}c`])).toBe(2);
      await store.clear(run);
      expect(await store.get(`${run}a`)).toBeUndefined();
    } finally {
      await store.close();
    }
    const log = (await admin.acl('LOG')) as unknown[];
    expect(log).toEqual([]);
  });

  it('authenticates with requirepass (default user, password-only URL)', async () => {
    const store = redisStore({
      url: `redis://:${encodeURIComponent(ADMIN_PASSWORD)}@127.0.0.1:${port()}`,
      logger: quietLogger(),
    });
    await store.set('sec:default', bytes('ok'), 10_000);
    expect(text(await store.get('sec:default'))).toBe('ok');
    // Logging the store (or a cache's `store`) must not print the client's options.
    expect(inspect(store, { depth: 10 })).not.toContain(ADMIN_PASSWORD);
    expect(inspect({ wrapped: store }, { depth: 10 })).not.toContain(ADMIN_PASSWORD);
    expect(JSON.stringify(store)).not.toContain(ADMIN_PASSWORD);
    expect(String(inspect(store))).toContain(`redis://127.0.0.1:${port()}`);
    await store.close();
  });

  for (const [label, url] of [
    ['default user, wrong password', () => `redis://:${WRONG_PASSWORD}@127.0.0.1:${port()}`],
    ['ACL user, wrong password', () => urlFor('larder', WRONG_PASSWORD)],
  ] as const) {
    it(`${label}: typed CacheAuthError, no secret anywhere, reconnects back off`, async () => {
      const output = captureOutput();
      const unhandled = trackUnhandled();
      let store: RedisStore | undefined;
      try {
        store = redisStore({ url: url(), logger: quietLogger() });
        const strict = createCache({ store, ignoreErrors: false, circuitBreaker: false });
        const failed = await timed(strict.get('k'));
        expect(failed.error).toBeInstanceOf(CacheAuthError);
        const error = failed.error as CacheAuthError;
        expect(error.code).toBe('E_STORE_AUTH');
        expect(error.message).toBe(
          `authentication failed for redis://127.0.0.1:${port()} (check the password / ACL user)`,
        );
        expect(failed.ms).toBeLessThan(1050);
        // Later calls fail fast with the same reason, not "unreachable".
        const again = await timed(strict.set('k', 1));
        expect(again.error).toBeInstanceOf(CacheAuthError);
        expect(again.ms).toBeLessThan(50);

        let reconnects = 0;
        const count = () => reconnects++;
        store.client.on('reconnecting', count);
        const lenient = createCache({ store, logger: { warn: console.warn, error: console.error } });
        const started = Date.now();
        while (Date.now() - started < 1000) {
          const result = await timed(lenient.get('k'));
          expect(result.error).toBeUndefined();
          expect(result.value).toBeUndefined();
          expect(result.ms).toBeLessThan(1050);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        store.client.off('reconnecting', count);
        expect(reconnects).toBeLessThanOrEqual(10);
        expect(store.lastError).toBeInstanceOf(CacheAuthError);

        for (const rendering of [
          renderings(error),
          renderings(again.error),
          renderings(store.lastError),
          output.text(),
        ]) {
          expect(rendering).not.toContain(WRONG_PASSWORD);
          expect(rendering).not.toContain(LARDER_PASSWORD);
        }
      } finally {
        await store?.close();
        output.restore();
        unhandled.stop();
      }
      expect(unhandled.list).toEqual([]);
    });
  }

  it('a command outside the ACL rejects StorePermissionError naming it', async () => {
    await admin.acl('LOG', 'RESET');
    const store = redisStore({ url: urlFor('nounlink', LARDER_PASSWORD), logger: quietLogger() });
    const cache = createCache({ store, prefix: 'sec', ignoreErrors: false, circuitBreaker: false });
    expect(await cache.set('a', 1)).toBe(true);
    const denied = await timed(cache.delete('a'));
    expect(denied.error).toBeInstanceOf(StorePermissionError);
    expect((denied.error as StorePermissionError).code).toBe('E_STORE_PERMISSION');
    expect((denied.error as Error).message).toMatch(/'unlink'/);
    expect(renderings(denied.error)).not.toContain(LARDER_PASSWORD);
    // A key outside the user's patterns.
    const outside = await timed(store.get('elsewhere:1'));
    expect(outside.error).toBeInstanceOf(StorePermissionError);
    expect((outside.error as Error).message).toMatch(/key/);
    // Under ignoreErrors the same fault is a quiet false.
    expect(await createCache({ store, prefix: 'sec', logger: quietLoggerFull() }).delete('a')).toBe(false);
    await store.close();
  });
});

describe('RedisStore over TLS', () => {
  let server: RedisServerHandle;
  let other: RedisServerHandle;
  beforeAll(async () => {
    [server, other] = await Promise.all([startRedis({ tls: true }), startRedis({ tls: true })]);
  });
  afterAll(async () => {
    await Promise.all([server?.stop(), other?.stop()]);
  });

  it('connects with rediss:// and the right CA', async () => {
    const store = redisStore({ url: server.url, tls: { ca: server.tls!.ca }, logger: quietLogger() });
    await store.set('tls:k', bytes('secure'), 10_000);
    expect(text(await store.get('tls:k'))).toBe('secure');
    expect((await store.info()).serverVersion).toBe(server.version);
    await store.close();
  });

  for (const [label, tls] of [
    ['a wrong CA', () => ({ ca: other.tls!.ca })],
    ['the default trust store', () => undefined],
  ] as const) {
    it(`refuses ${label} within the connect timeout, with an identifiable cause and no downgrade`, async () => {
      const store = redisStore({ url: server.url, tls: tls(), logger: quietLogger() });
      const strict = createCache({ store, ignoreErrors: false, circuitBreaker: false });
      const result = await timed(strict.get('k'));
      expect(result.ms).toBeLessThan(1050);
      expect(result.error).toMatchObject({ code: 'E_STORE_UNAVAILABLE' });
      const cause = (result.error as Error).cause as { code?: string } | undefined;
      expect(cause?.code).toMatch(/SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT/);
      expect((store.client as Redis).options.tls).not.toMatchObject({ rejectUnauthorized: false });
      await store.close();
    });
  }

  it('plaintext to the TLS port fails fast', async () => {
    const store = redisStore({ url: `redis://127.0.0.1:${server.port}`, logger: quietLogger() });
    const result = await timed(createCache({ store, ignoreErrors: false, circuitBreaker: false }).get('k'));
    expect(result.error).toMatchObject({
      code: expect.stringMatching(/E_STORE_UNAVAILABLE|E_STORE_TIMEOUT/),
    });
    expect(result.ms).toBeLessThan(1050);
    await store.close();
  });
});

function quietLoggerFull() {
  const logger = quietLogger();
  return { warn: logger.warn, error: logger.warn };
}
