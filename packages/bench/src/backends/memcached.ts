import type { Cache, Store } from '@larder/core';
import memjs from 'memjs';
import { memoryKey, rawKeysWritten } from '../data.js';
import {
  type BenchBackend,
  benchCaches,
  CountingLogger,
  decodeRaw,
  encodeRaw,
  larderLoader,
  loadBatches,
  loaderCache,
  type MemoryLoad,
  type MemorySideName,
  type MemoryReading,
  memoryPlan,
  once,
  RAW_TTL_SECONDS,
  type RawDriver,
} from './backend.js';
import type { LoadContext } from './index.js';
import { closeQuietly, faultsFor, importPackage, serverInfo, startServer } from './load.js';

/** The part of `@larder/backend-memcached` the bench uses. */
interface MemcachedModule {
  memcachedStore(options: { servers?: string; url?: string }): Store;
}

type RawClient = memjs.Client<string | Buffer, Buffer | null>;

function rawDriver(client: RawClient): RawDriver {
  const get = async (key: string) => decodeRaw((await client.get(key)).value);
  const set = (key: string, value: unknown) =>
    client.set(key, encodeRaw(value), { expires: RAW_TTL_SECONDS });
  return {
    get,
    set,
    // memjs 1.3 has no multi-get: concurrent GETs, which memjs pipelines on its one connection.
    getMany: (keys) => Promise.all(keys.map(get)),
    incr: async (key) => {
      const { value } = await client.increment(key, 1, { initial: 1, expires: RAW_TTL_SECONDS });
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
  const server = await startServer('memcached', options.backendsExplicit, (testkit) =>
    process.env.MEMCACHED_URL ? testkit.startMemcached() : testkit.startMemcached({ memoryMb }),
  );
  // The server first: an environment URL that does not answer must stop the run even if the package is missing.
  const pkg = await importPackage<MemcachedModule>('@larder/backend-memcached').catch(
    async (error: unknown) => {
      await server.stop();
      throw error;
    },
  );
  const { memcachedStore } = pkg;
  const logger = new CountingLogger();
  let store: Store | undefined;
  let client: RawClient | undefined;
  try {
    store = /^[a-z]+:\/\//i.test(server.url)
      ? memcachedStore({ url: server.url })
      : memcachedStore({ servers: server.url });
    const { larder, loader } = benchCaches(store, logger);
    const address = server.url.replace(/^[a-z]+:\/\//i, '').replace(/^[^@]*@/, '');
    // The raw client as a user gets it (memjs defaults), minus its console logging of outages.
    client = memjs.Client.create(address, { logger: { log: () => {} } }) as RawClient;
    const raw = rawDriver(client);
    const rawClient = client;
    await rawClient.set('bench:probe', '1', { expires: 60 });
    const { faults, why } = faultsFor(server);
    const disconnect = once(async () => {
      await closeQuietly(larder);
      rawClient.close();
    });

    const measureMemory = async (side: MemorySideName, load: MemoryLoad): Promise<MemoryReading> => {
      const { keys, valueAt, batch, onProgress } = memoryPlan(side, load);
      const before = await stats(rawClient);
      let memoryLoader: Cache | undefined;
      if (side === 'larder') {
        memoryLoader = loaderCache(store!, logger);
        await loadBatches(keys, valueAt, batch, larderLoader(memoryLoader), onProgress);
      } else {
        await loadBatches(keys, valueAt, batch, (entries) => raw.load(entries), onProgress);
      }
      const after = await stats(rawClient);
      const evicted = Number(after.evictions) - Number(before.evictions);
      if (evicted > 0) {
        throw new Error(
          `memcached evicted ${evicted} items during the memory load (limit ${after.limit_maxbytes} bytes); ` +
            'give it more memory (-m) or lower --memory-keys',
        );
      }
      if (memoryLoader !== undefined && server.source !== 'local') {
        // A shared server: delete Larder's entries by key (a generation bump would clear the app's 'larder' prefix too).
        for (let i = 0; i < keys.length; i += 1000) await memoryLoader.deleteMany(keys.slice(i, i + 1000));
      }
      // Otherwise both sides stay loaded (memcached frees memory lazily); the server has room for both.
      return {
        bytes: Number(after.bytes) - Number(before.bytes),
        method: side === 'larder' ? 'memcached stats "bytes" delta' : 'same, for memjs set of the JSON text',
      };
    };

    return {
      name: 'memcached',
      rawClient: 'memjs get/set',
      server: serverInfo(server),
      url: server.url,
      larder,
      loader,
      raw,
      timeoutMs: 1000,
      faults,
      faultsUnavailable: why,
      measureMemory,
      teardown: once(async () => {
        if (server.source !== 'local') {
          // A shared server: bump Larder's generation and delete the raw keys we wrote.
          await larder.clear().catch(() => false);
          const written = [
            ...rawKeysWritten(options.keys),
            ...Array.from({ length: options.memoryKeys }, (_, i) => memoryKey(i)),
          ];
          for (let i = 0; i < written.length; i += 1000) {
            await Promise.all(
              written.slice(i, i + 1000).map((key) => rawClient.delete(key).catch(() => false)),
            );
          }
        }
        await disconnect();
        await server.stop();
      }),
    };
  } catch (error) {
    await closeQuietly(store);
    client?.close();
    await server.stop();
    throw error;
  }
}
