import { inspect } from 'node:util';
import { PostgresStore } from '@larder/backend-db/postgres';
import { MemcachedStore } from '@larder/backend-memcached';
import { RedisStore } from '@larder/backend-redis';
import { type CacheLogger, createCache, type Store } from '@larder/core';
import { type RedisServerHandle, startRedis } from '@larder/testkit';
import { useServer } from '@larder/testkit/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Builds every network store from URLs and options whose password holds every character a
 * URL reserves (and a space), makes each fail to connect or to authenticate, and searches
 * everything a log, a crash report or a health endpoint could print for the password.
 */
const PASSWORD = "Lx7:/?#[]@!$&'()*+,;=% q9Z";
const ENCODED = encodeURIComponent(PASSWORD);

/** The password, its percent-encoded form, and every 6-character piece of the password. */
const NEEDLES = [
  PASSWORD,
  ENCODED,
  ...Array.from({ length: PASSWORD.length - 5 }, (_, i) => PASSWORD.slice(i, i + 6)),
];

/** Everything printed, with where it came from, to name the leak when one is found. */
const seen: { where: string; text: string }[] = [];

function see(where: string, value: unknown): void {
  if (typeof value === 'string') {
    seen.push({ where, text: value });
    return;
  }
  seen.push({ where: `${where} inspect`, text: inspect(value, { depth: 20, showHidden: true }) });
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    json = `JSON.stringify threw ${String(error)}`;
  }
  seen.push({ where: `${where} JSON`, text: json ?? '' });
  seen.push({ where: `${where} String`, text: String(value) });
}

/** An error as every logger and crash report could print it: message, stack, toJSON, and its whole cause chain. */
function seeError(where: string, error: unknown): void {
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 10; depth++) {
    const label = `${where} ${depth === 0 ? 'error' : `cause ${depth}`}`;
    see(label, current);
    if (current instanceof Error) {
      see(`${label} message`, current.message);
      see(`${label} stack`, current.stack ?? '');
    }
    const toJSON = (current as { toJSON?: () => unknown }).toJSON;
    if (typeof toJSON === 'function') see(`${label} toJSON`, JSON.stringify(toJSON.call(current)));
    current = (current as { cause?: unknown }).cause;
  }
}

/** A logger that keeps every line it receives, as pino would print it and as inspect would. */
function capturingLogger(where: string): CacheLogger {
  const line =
    (level: string) =>
    (fields: unknown, message?: string): void => {
      see(`${where} log ${level} line`, `${message ?? ''} ${JSON.stringify(fields)}`);
      see(`${where} log ${level} fields`, inspect(fields, { depth: 20, showHidden: true }));
      const err = (fields as { err?: unknown } | undefined)?.err;
      if (err !== undefined) seeError(`${where} log ${level} err`, err);
    };
  return {
    warn: line('warn'),
    error: line('error'),
    info: line('info'),
    debug: line('debug'),
  } as CacheLogger;
}

/** Runs every call through a lenient cache (failures logged) and a strict one (failures thrown), and the store itself. */
async function exercise(where: string, store: Store): Promise<number> {
  let failures = 0;
  see(`${where} store`, store);
  see(`${where} store wrapped`, { store });
  const lenient = createCache({
    store,
    logger: capturingLogger(where),
    logInterval: 0,
    circuitBreaker: false,
  });
  lenient.on('error', ({ error }) => seeError(`${where} error event`, error));
  await lenient.get('k');
  await lenient.set('k', 'v');
  await lenient.getOrSet('g', () => 1);
  await lenient.has('k');
  await lenient.delete('k');
  const strict = createCache({
    store,
    ignoreErrors: false,
    circuitBreaker: false,
    logger: capturingLogger(where),
  });
  for (const call of [
    () => strict.get('k'),
    () => strict.set('k', 'v'),
    () => strict.incr('n'),
    () => strict.getMany(['a', 'b']),
    () => store.get('raw'),
    () => store.set('raw', new Uint8Array(1), 1000),
    () => store.info(),
  ]) {
    const error = await call().then(
      () => undefined,
      (e: unknown) => e,
    );
    if (error !== undefined) {
      failures++;
      seeError(`${where} call`, error);
    }
  }
  see(`${where} stats`, lenient.stats());
  see(`${where} store after`, store);
  return failures;
}

/** A config error the factory throws, searched like any other. */
function configError(where: string, build: () => Store): void {
  try {
    const store = build();
    see(`${where} built`, store);
    void store.close();
  } catch (error) {
    seeError(`${where} config`, error);
  }
}

function expectNoSecret(): void {
  expect(seen.length).toBeGreaterThan(100);
  const leaks: string[] = [];
  for (const { where, text } of seen) {
    for (const needle of NEEDLES) {
      if (text.includes(needle)) leaks.push(`${where} shows ${JSON.stringify(needle)}`);
    }
  }
  expect(leaks).toEqual([]);
}

describe('no store ever shows its password', () => {
  let redis: RedisServerHandle;
  const memcached = useServer('memcached');
  const postgres = useServer('postgres');
  const stores: Store[] = [];
  const keep = <S extends Store>(store: S): S => {
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    redis = await startRedis({ requirepass: 'the-right-one' });
  });
  afterAll(async () => {
    for (const store of stores) await store.close().catch(() => undefined);
    await redis?.stop();
  });

  it('redis: a wrong password in the URL, in options and as an ACL user, and an unreachable server', async () => {
    const quiet = { warn() {} };
    let failures = 0;
    failures += await exercise(
      'redis url',
      keep(
        new RedisStore({ url: `redis://:${ENCODED}@127.0.0.1:${redis.port}`, timeout: 500, logger: quiet }),
      ),
    );
    failures += await exercise(
      'redis acl url',
      keep(
        new RedisStore({
          url: `redis://app:${ENCODED}@127.0.0.1:${redis.port}/2`,
          timeout: 500,
          logger: quiet,
        }),
      ),
    );
    failures += await exercise(
      'redis options',
      keep(
        new RedisStore({
          redis: { host: '127.0.0.1', port: redis.port, username: 'app', password: PASSWORD },
          timeout: 500,
          logger: quiet,
        }),
      ),
    );
    failures += await exercise(
      'redis refused',
      keep(new RedisStore({ url: `redis://app:${ENCODED}@127.0.0.1:1`, timeout: 300, logger: quiet })),
    );
    const store = stores.at(-3) as RedisStore;
    seeError('redis lastError', store.lastError);
    configError(
      'redis raw url',
      () => new RedisStore({ url: `redis://app:${PASSWORD}@127.0.0.1:${redis.port}` }),
    );
    configError(
      'redis raw url, bad db',
      () => new RedisStore({ url: `redis://app:pw@127.0.0.1:1/${PASSWORD}` }),
    );
    expect(failures).toBeGreaterThanOrEqual(4 * 6);
    expectNoSecret();
  });

  it('memcached: credentials in a URL (encoded and raw) and in options, on a live and an unreachable server', async () => {
    let failures = 0;
    const [host, port] = memcached.url.split(':');
    failures += await exercise(
      'memcached url',
      keep(new MemcachedStore({ url: `memcached://app:${ENCODED}@127.0.0.1:1`, timeout: 300 })),
    );
    // Raw, every reserved character but % (which would be read as percent-encoding) and space.
    failures += await exercise(
      'memcached raw url',
      keep(
        new MemcachedStore({
          url: `memcached://app:${PASSWORD.replace(/[% ]/g, '')}@127.0.0.1:1`,
          timeout: 300,
        }),
      ),
    );
    configError(
      'memcached raw url with %',
      () => new MemcachedStore({ url: `memcached://app:${PASSWORD}@127.0.0.1:1` }),
    );
    failures += await exercise(
      'memcached options',
      keep(
        new MemcachedStore({ servers: `${host}:${port}`, username: 'app', password: PASSWORD, timeout: 300 }),
      ),
    );
    configError(
      'memcached raw url with a space',
      () => new MemcachedStore({ url: `memcached://app:${PASSWORD}@h:1` }),
    );
    configError(
      'memcached raw url, bad host',
      () => new MemcachedStore({ url: `memcached://app:${PASSWORD}@bad host:1` }),
    );
    configError(
      'memcached credentials in servers',
      () => new MemcachedStore({ servers: `app:${PASSWORD}@127.0.0.1:1` }),
    );
    expect(failures).toBeGreaterThanOrEqual(2 * 6);
    expectNoSecret();
  });

  it('postgres: a password in the connection string and in poolConfig, a role that does not exist, an unreachable server', async () => {
    const url = new URL(postgres.url);
    let failures = 0;
    const connection = (user: string, port: string) => {
      const u = new URL(postgres.url);
      u.username = user;
      u.password = PASSWORD;
      u.port = port;
      return u.href;
    };
    failures += await exercise(
      'postgres unknown role',
      keep(
        new PostgresStore({ connectionString: connection('larder_no_such_role', url.port), timeout: 500 }),
      ),
    );
    failures += await exercise(
      'postgres refused',
      keep(new PostgresStore({ connectionString: connection('app', '1'), timeout: 300 })),
    );
    failures += await exercise(
      'postgres poolConfig',
      keep(
        new PostgresStore({
          poolConfig: { host: '127.0.0.1', port: 1, user: 'app', password: PASSWORD, database: 'x' },
          timeout: 300,
        }),
      ),
    );
    failures += await exercise(
      'postgres raw url',
      keep(
        new PostgresStore({
          connectionString: `postgres://app:${PASSWORD}@127.0.0.1:${url.port}/postgres`,
          timeout: 300,
        }),
      ),
    );
    for (const store of stores.filter((s): s is PostgresStore => s instanceof PostgresStore)) {
      see('postgres client (the pool)', store.client === undefined ? '' : 'pool present');
      expect(Object.keys(store)).not.toContain('client');
    }
    expect(failures).toBeGreaterThanOrEqual(4 * 6);
    expectNoSecret();
  });
});
