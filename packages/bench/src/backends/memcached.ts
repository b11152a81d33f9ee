import memjs from 'memjs';
import { rawKeysWritten } from '../data.js';
import type { BenchBackend, MemoryProbe, RawDriver } from './backend.js';
import * as kit from './backend.js';
import type { LoadContext } from './index.js';
import { closeQuietly, openServer, tearDownAndThrow } from './load.js';

type MemcachedModule = typeof import('@larder/backend-memcached');

type RawClient = memjs.Client<string | Buffer, Buffer | null>;

function rawDriver(client: RawClient): RawDriver {
  const get = async (key: string) => kit.decodeRaw((await client.get(key)).value);
  const set = (key: string, value: unknown) =>
    client.set(key, kit.encodeRaw(value), { expires: kit.RAW_TTL_SECONDS });
  return {
    get,
    set,
    // memjs 1.3 has no multi-get: concurrent GETs, which memjs pipelines on its one connection.
    getMany: (keys) => Promise.all(keys.map(get)),
    incr: async (key) => {
      const { value } = await client.increment(key, 1, { initial: 1, expires: kit.RAW_TTL_SECONDS });
      return typeof value === 'number' ? value : undefined;
    },
    load: async (entries) => {
      await Promise.all(entries.map(([key, value]) => set(key, value)));
    },
  };
}

/** Reads one server's `stats` through memjs. */
function stats(client: RawClient): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    client.stats((error, _server, values) => {
      if (error) reject(error);
      else if (values === null) reject(new Error('memcached returned no stats'));
      else resolve(values);
    });
  });
}

/** Megabytes of cache memory to give a memcached the bench starts: both sides of the memory load plus the working set, with room for slab waste. */
export function memcachedMemoryMb(memoryKeys: number, keys: number, valueSize: number): number {
  const itemBytes = valueSize + 200;
  return Math.max(64, Math.ceil(((2 * memoryKeys + 2 * keys) * itemBytes * 1.5) / 2 ** 20));
}

/** MemcachedStore through Larder beside a plain memjs client (get/set/increment). */
export async function createMemcachedBackend(context: LoadContext): Promise<BenchBackend> {
  const { options } = context;
  const memoryMb = memcachedMemoryMb(options.memoryKeys, options.keys, options.valueSize);
  const open = await openServer<MemcachedModule>('memcached', context, '@larder/backend-memcached', (t) =>
    process.env.MEMCACHED_URL ? t.startMemcached() : t.startMemcached({ memoryMb }),
  );
  const { handle, pkg } = open;
  const url = handle.url;
  const store = pkg.memcachedStore(/^[a-z]+:\/\//i.test(url) ? { url } : { servers: url });
  const larder = kit.benchCache(store);
  const address = url.replace(/^[a-z]+:\/\//i, '').replace(/^[^@]*@/, '');
  // The raw client as a user gets it (memjs defaults), minus its console logging of outages.
  const client = memjs.Client.create(address, { logger: { log: () => {} } }) as RawClient;
  const raw = rawDriver(client);
  const shared = handle.source !== 'local';
  const deleteRaw = (keys: readonly string[]) =>
    kit.inChunks(keys, (chunk) => Promise.all(chunk.map((key) => client.delete(key).catch(() => false))));
  const teardown = kit.once(async () => {
    if (shared) {
      // A shared server: bump Larder's generation and delete the raw keys we wrote.
      await larder.clear().catch(() => false);
      await deleteRaw(rawKeysWritten(options.keys));
    }
    await closeQuietly(larder);
    client.close();
    await handle.stop();
  });
  await client.set('bench:probe', '1', { expires: 60 }).catch(tearDownAndThrow(teardown));
  const memory: MemoryProbe = {
    methods: { larder: 'memcached stats "bytes" delta', raw: 'same, for memjs set' },
    async open(side) {
      const cache = side === 'larder' ? kit.loaderCache(store) : undefined;
      let evictionsBefore: number | undefined;
      return {
        write: cache ? kit.larderLoader(cache) : raw.load,
        bytes: async () => {
          const now = await stats(client);
          evictionsBefore ??= Number(now.evictions);
          const evicted = Number(now.evictions) - evictionsBefore;
          if (evicted > 0) {
            throw new Error(
              `memcached evicted ${evicted} items during the memory load (limit ${now.limit_maxbytes} bytes); ` +
                'give it more memory (-m) or lower --memory-keys',
            );
          }
          return Number(now.bytes);
        },
        // memcached frees memory lazily: a server the bench started keeps both sides (it has room).
        // A shared one is cleaned by key (a generation bump would clear the app's 'larder' prefix too).
        close: async (keys) => {
          if (shared)
            await (cache ? kit.inChunks(keys, (chunk) => cache.deleteMany(chunk)) : deleteRaw(keys));
        },
      };
    },
  };
  return { ...open.common, name: 'memcached', rawClient: 'memjs get/set', larder, raw, memory, teardown };
}
