import { Redis } from 'ioredis';
import { rawKeysWritten } from '../data.js';
import type { BenchBackend, MemoryProbe, RawDriver } from './backend.js';
import * as kit from './backend.js';
import type { LoadContext } from './index.js';
import { closeQuietly, openServer, tearDownAndThrow } from './load.js';

type RedisModule = typeof import('@larder/backend-redis');

const rawDriver = (client: Redis): RawDriver => ({
  get: async (key) => kit.decodeRaw(await client.get(key)),
  set: async (key, value) =>
    (await client.set(key, kit.encodeRaw(value), 'EX', kit.RAW_TTL_SECONDS)) === 'OK',
  getMany: async (keys) => (await client.mget(...keys)).map(kit.decodeRaw),
  // Plain INCR: a hand-written counter rarely sets an expiry (Larder's incr does, atomically).
  incr: (key) => client.incr(key),
  load: async (entries) => {
    const pipeline = client.pipeline();
    for (const [key, value] of entries) pipeline.set(key, kit.encodeRaw(value), 'EX', kit.RAW_TTL_SECONDS);
    const failed = (await pipeline.exec())?.find(([error]) => error !== null);
    if (failed) throw failed[0];
  },
});

/** Parses `used_memory` out of INFO memory. */
export function usedMemory(info: string): number {
  const match = /^used_memory:(\d+)/m.exec(info);
  if (!match) throw new Error('INFO memory has no used_memory line');
  return Number(match[1]);
}

/** `used_memory` once Redis has finished rehashing the tables a load grew (that moved a side ~10 %). */
async function settledMemory(client: Redis): Promise<number> {
  let last = usedMemory(await client.info('memory'));
  for (let waited = 0; waited < 5000; waited += 250) {
    await new Promise((resolve) => setTimeout(resolve, 250)); // until two reads agree, at most 5 s
    const now = usedMemory(await client.info('memory'));
    if (Math.abs(now - last) < 64 * 1024) return now;
    last = now;
  }
  return last;
}

/** RedisStore through Larder beside a plain ioredis client (GET/SET EX/MGET/INCR). */
export async function createRedisBackend(context: LoadContext): Promise<BenchBackend> {
  const open = await openServer<RedisModule>('redis', context, '@larder/backend-redis', (t) =>
    t.startRedis(),
  );
  const { handle, pkg } = open;
  const url = handle.url;
  const larder = kit.benchCache(pkg.redisStore({ url, logger: kit.QUIET }));
  // The raw client as a user gets it: ioredis defaults, plus an error listener so outages do not print.
  const client = new Redis(url, { lazyConnect: true });
  client.on('error', () => {});
  const teardown = kit.once(async () => {
    if (handle.source !== 'local') {
      // A shared server: remove only what the bench wrote.
      await larder.clear().catch(() => {});
      await kit.inChunks(rawKeysWritten(context.options.keys), (chunk) =>
        client.unlink(...chunk).catch(() => 0),
      );
    }
    await closeQuietly(larder);
    client.disconnect();
    await handle.stop();
  });
  await client.connect().catch(tearDownAndThrow(teardown));
  const memory: MemoryProbe = {
    methods: { larder: 'Redis INFO used_memory delta', raw: 'same, for SET … EX' },
    async open(side) {
      // Each side loads into its own empty logical database (14, 15), so each pays for growing
      // its own key and expiry tables (a side loaded after the other would find them grown).
      const db = side === 'larder' ? 14 : 15;
      const sideClient = client.duplicate({ db });
      sideClient.on('error', () => {});
      const store = side === 'larder' ? pkg.redisStore({ url, logger: kit.QUIET, redis: { db } }) : undefined;
      const cache = store && kit.loaderCache(store);
      return {
        write: cache ? kit.larderLoader(cache) : rawDriver(sideClient).load,
        bytes: () => settledMemory(client),
        close: async (keys) => {
          await kit.inChunks(keys, (chunk) => (cache ? cache.deleteMany(chunk) : sideClient.del(...chunk)));
          await closeQuietly(cache);
          sideClient.disconnect();
        },
      };
    },
  };
  const raw = rawDriver(client);
  return { ...open.common, name: 'redis', rawClient: 'ioredis GET/SET', larder, raw, memory, teardown };
}
