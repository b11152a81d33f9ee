import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { CacheConfigError, createCache, StoreAuthError, StoreUnavailableError } from '@larder/core';
import { describeStoreContract } from '@larder/core/testing';
import { type RedisSentinelHandle, startRedisSentinel, withRedis } from '@larder/testkit';
import { bytes, randomPrefix } from '@larder/testkit/helpers';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RedisStore, redisStore } from '../src/index.js';
import { expectResumed, runFailover } from './failover.js';
import { quietLogger } from './helpers.js';

const PASSWORD = `m@ster/${randomBytes(4).toString('hex')}`;
const SENTINEL_PASSWORD = `sent#nel/${randomBytes(4).toString('hex')}`;
const TIMEOUT = 500;

const text = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : Buffer.from(value).toString();

describe('redisStore({ sentinels }) configuration', () => {
  const sentinels = [{ host: '127.0.0.1', port: 1 }];

  it('rejects bad combinations in the constructor with a typed error saying what to change', () => {
    const cases: [unknown, RegExp][] = [
      [{ sentinels, name: 'm', url: 'redis://127.0.0.1:1' }, /one of url, cluster, sentinels or client/],
      [{ sentinels, name: 'm', cluster: [{ port: 1 }] }, /one of url, cluster, sentinels or client/],
      [{ sentinels, name: 'm', client: new Redis({ lazyConnect: true }) }, /one of/],
      [{ sentinels }, /sentinels needs name: the master group name/],
      [{ sentinels, name: '' }, /sentinels needs name/],
      [{ name: 'mymaster' }, /name is the Sentinel master group name; it needs sentinels/],
      [{ sentinels: [], name: 'm' }, /at least one \{ host, port \}/],
      [
        { sentinels: [{ host: '127.0.0.1' }], name: 'm' },
        /sentinels\[0\] must be \{ host: string, port: 1-65535 \}/,
      ],
      [{ sentinels: [...sentinels, { host: '', port: 26379 }], name: 'm' }, /sentinels\[1\]/],
      [{ sentinels: '127.0.0.1:26379', name: 'm' }, /sentinels/],
      [{ sentinels, name: 'm', redis: { role: 'slave' } }, /role 'slave'/],
    ];
    for (const [options, message] of cases) {
      let thrown: unknown;
      try {
        redisStore(options as never);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, JSON.stringify(options)).toBeInstanceOf(CacheConfigError);
      expect((thrown as Error).message).toMatch(message);
    }
  });

  it('prints itself with the sentinels and master name, never a password', async () => {
    const store = redisStore({
      sentinels,
      name: 'mymaster',
      redis: { password: PASSWORD, sentinelPassword: SENTINEL_PASSWORD, lazyConnect: true },
      logger: quietLogger(),
    });
    for (const shown of [inspect(store, { depth: 10 }), JSON.stringify(store), String(store)]) {
      expect(shown).toContain('redis sentinel mymaster (127.0.0.1:1)');
      expect(shown).not.toContain(PASSWORD);
      expect(shown).not.toContain(SENTINEL_PASSWORD);
    }
    await store.close();
  });
});

describe('RedisStore over Sentinel', () => {
  let topology: RedisSentinelHandle;
  beforeAll(async () => {
    topology = await startRedisSentinel({
      replicas: 1,
      sentinels: 3,
      requirepass: PASSWORD,
      sentinelPassword: SENTINEL_PASSWORD,
    });
  });
  afterAll(async () => {
    await topology?.stop();
  });
  const sentinelStore = (extra: { sentinelPassword?: string } = {}) =>
    redisStore({
      sentinels: topology.sentinels,
      name: topology.name,
      redis: { password: PASSWORD, sentinelPassword: SENTINEL_PASSWORD, ...extra },
      logger: quietLogger(),
    });

  describeStoreContract({
    name: 'RedisStore (Sentinel, with passwords on the master and the sentinels)',
    createStore: () => sentinelStore(),
  });

  it('asks the sentinels for the master and writes there', async () => {
    const store = sentinelStore();
    const key = `${randomPrefix('sn')}:where`;
    await store.set(key, bytes('here'), 60_000);
    expect(text(await store.get(key))).toBe('here');
    const master = await topology.masterAddress();
    expect(master.port).toBe(topology.master.port);
    expect(await withRedis({ ...master, password: PASSWORD }, (client) => client.get(key))).toBe('here');
    expect((await store.info()).endpoint).toMatch(/^redis sentinel mymaster \(127\.0\.0\.1:\d+/);
    await store.close();
  });

  it('a wrong sentinel password is a typed auth error with no secret in it', async () => {
    const wrong = `wrong/${randomBytes(4).toString('hex')}`;
    const store = sentinelStore({ sentinelPassword: wrong });
    const error = await store.get('k').then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(StoreAuthError);
    expect((error as Error).message).toMatch(/authentication failed for redis sentinel mymaster/);
    for (const shown of [
      inspect(error, { depth: 10, showHidden: true }),
      JSON.stringify(error),
      String(error),
    ]) {
      expect(shown).not.toContain(wrong);
      expect(shown).not.toContain(PASSWORD);
    }
    await store.close();
  });
});

describe('RedisStore over Sentinel with TLS', () => {
  let topology: RedisSentinelHandle;
  beforeAll(async () => {
    topology = await startRedisSentinel({ replicas: 1, sentinels: 1, tls: true });
  });
  afterAll(async () => {
    await topology?.stop();
  });

  it('tls: { ca } verifies both the sentinels and the master', async () => {
    const store = redisStore({
      sentinels: topology.sentinels,
      name: topology.name,
      tls: { ca: topology.tls!.ca },
      logger: quietLogger(),
    });
    const key = `${randomPrefix('snt')}:k`;
    await store.set(key, bytes('over tls'), 60_000);
    expect(text(await store.get(key))).toBe('over tls');
    await store.close();
  });

  it('without the CA it fails within the timeout and never falls back to plaintext', async () => {
    const store = redisStore({
      sentinels: topology.sentinels,
      name: topology.name,
      tls: {},
      timeout: 500,
      logger: quietLogger(),
    });
    const started = performance.now();
    const error = await store.get('k').then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(performance.now() - started).toBeLessThan(500 + 200);
    // ioredis reports an unverified sentinel as "Connection is closed", not the certificate error
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/redis sentinel mymaster \(127\.0\.0\.1:\d+\) is unreachable/);
    await store.close();
  });
});

describe('Sentinel failover under load', () => {
  let topology: RedisSentinelHandle | undefined;
  let store: RedisStore | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await topology?.stop();
    topology = undefined;
  });

  const faults = [
    {
      title: 'master SIGKILLed → the replica is promoted → Larder resumes',
      inject: (topology: RedisSentinelHandle) => topology.master.kill(),
      storeFailed: true,
    },
    {
      title: 'master SIGSTOPped → the replica is promoted → Larder resumes',
      inject: (topology: RedisSentinelHandle) => topology.master.pause(),
      storeFailed: true,
    },
    {
      // The old master stays up, and sentinel demotes it only at its next INFO poll (up to 10 s
      // later): a client left on it keeps writing there, and loses those writes at the demotion.
      title: 'manual failover (SENTINEL FAILOVER), the old master alive → the store follows the new master',
      inject: async (topology: RedisSentinelHandle) => {
        await withRedis(topology.sentinels[0]!, (client) =>
          client.call('SENTINEL', 'FAILOVER', topology.name),
        );
      },
      storeFailed: false,
    },
  ];

  for (const fault of faults) {
    it(`${fault.title}; no error reaches a caller, every call within its deadline, no write lost after the switch`, async () => {
      topology = await startRedisSentinel({ replicas: 1, sentinels: 3, downAfterMs: 1000 });
      const running = topology;
      store = redisStore({
        sentinels: running.sentinels,
        name: running.name,
        timeout: TIMEOUT,
        logger: quietLogger(),
      });
      const cache = createCache({
        store,
        prefix: randomPrefix('snf'),
        timeout: TIMEOUT,
        logger: { warn: () => {}, error: () => {} },
      });
      const oldMaster = running.master;
      let newMaster = { host: '', port: 0 };
      const run = await runFailover(cache, {
        prefix: 'k',
        timeoutMs: TIMEOUT,
        fault: () => fault.inject(running),
        promoted: async () => {
          newMaster = await running.waitForFailover(oldMaster.port, 20_000);
        },
      });
      expect(newMaster.port).toBe(running.replicas[0]!.port);
      expectResumed(run, `Sentinel, ${fault.title}, down-after-milliseconds 1000`, {
        storeFailed: fault.storeFailed,
      });
      // Every write after the switch holds its latest value on the new master itself.
      const late = [...run.written].filter(([, write]) => write.at > run.promotedAt);
      expect(late.length).toBeGreaterThan(0);
      const onNewMaster = await withRedis(newMaster, async (client) => {
        const stored = await client.keys('*');
        const values = stored.length === 0 ? [] : await client.mget(...stored);
        return new Map(
          stored.map((full, index) => [full.slice(full.lastIndexOf(':k') + 1), values[index] ?? '']),
        );
      });
      for (const [key, write] of late) {
        expect(onNewMaster.get(key), key).toContain(JSON.stringify(write.value));
        expect(await cache.get<string>(key)).toBe(write.value);
      }
    }, 40_000);
  }
});
