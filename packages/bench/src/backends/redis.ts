import type { Cache, Store } from '@larder/core';
import { Redis } from 'ioredis';
import { rawKeysWritten } from '../data.js';
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

/** The part of `@larder/backend-redis` the bench uses. */
interface RedisModule {
  redisStore(options: {
    url: string;
    redis?: { db?: number };
    logger?: { warn(o: Record<string, unknown>, m: string): void };
  }): Store & {
    readonly client: Redis;
  };
}

function rawDriver(client: Redis): RawDriver {
  return {
    get: async (key) => decodeRaw(await client.get(key)),
    set: async (key, value) => (await client.set(key, encodeRaw(value), 'EX', RAW_TTL_SECONDS)) === 'OK',
    getMany: async (keys) => (await client.mget(...keys)).map(decodeRaw),
    // Plain INCR: a hand-written counter rarely sets an expiry (Larder's incr does, atomically).
    incr: (key) => client.incr(key),
    load: async (entries) => {
      const pipeline = client.pipeline();
      for (const [key, value] of entries) pipeline.set(key, encodeRaw(value), 'EX', RAW_TTL_SECONDS);
      const results = await pipeline.exec();
      const failed = results?.find(([error]) => error !== null);
      if (failed) throw failed[0];
    },
  };
}

/** Logical databases the memory load uses (the workloads use the URL's, normally 0). */
const MEMORY_DB_LARDER = 14;
const MEMORY_DB_RAW = 15;

/** Parses `used_memory` out of INFO memory. */
export function usedMemory(info: string): number {
  const match = /^used_memory:(\d+)/m.exec(info);
  if (!match) throw new Error('INFO memory has no used_memory line');
  return Number(match[1]);
}

/** RedisStore through Larder beside a plain ioredis client (GET/SET EX/MGET/INCR). */
export async function createRedisBackend(context: LoadContext): Promise<BenchBackend> {
  const explicit = context.options.backendsExplicit;
  const server = await startServer('redis', explicit, (testkit) => testkit.startRedis());
  // The server first: an environment URL that does not answer must stop the run even if the package is missing.
  const pkg = await importPackage<RedisModule>('@larder/backend-redis').catch(async (error: unknown) => {
    await server.stop();
    throw error;
  });
  const { redisStore } = pkg;
  const logger = new CountingLogger();
  let store: ReturnType<RedisModule['redisStore']> | undefined;
  let client: Redis | undefined;
  try {
    store = redisStore({ url: server.url, logger });
    const { larder, loader } = benchCaches(store, logger);
    // The raw client as a user gets it: ioredis defaults, plus an error listener so outages do not print.
    client = new Redis(server.url, { lazyConnect: true });
    client.on('error', () => {});
    await client.connect();
    const raw = rawDriver(client);
    const rawClient = client;
    const { faults, why } = faultsFor(server);
    const disconnect = once(async () => {
      await closeQuietly(larder);
      rawClient.disconnect();
    });

    const measureMemory = async (side: MemorySideName, load: MemoryLoad): Promise<MemoryReading> => {
      const { keys, valueAt, batch, onProgress } = memoryPlan(side, load);
      const used = async () => usedMemory(await rawClient.info('memory'));
      // Each side loads into its own empty logical database, so each pays for growing its own
      // key and expiry tables (a side loaded after the other would find them already grown).
      const db = side === 'larder' ? MEMORY_DB_LARDER : MEMORY_DB_RAW;
      let memoryLoader: Cache | undefined;
      const sideClient = rawClient.duplicate({ db });
      sideClient.on('error', () => {});
      const before = await used();
      try {
        if (side === 'larder') {
          memoryLoader = loaderCache(redisStore({ url: server.url, logger, redis: { db } }), logger);
          await loadBatches(keys, valueAt, batch, larderLoader(memoryLoader), onProgress);
        } else {
          await loadBatches(
            keys,
            valueAt,
            batch,
            (entries) => rawDriver(sideClient).load(entries),
            onProgress,
          );
        }
        return {
          bytes: (await used()) - before,
          method: side === 'larder' ? 'Redis INFO used_memory delta' : 'same, for SET … EX of the JSON text',
        };
      } finally {
        load.phase.update(`${side}: deleting`);
        for (let i = 0; i < keys.length; i += 1000) {
          const chunk = keys.slice(i, i + 1000);
          if (memoryLoader !== undefined) await memoryLoader.deleteMany(chunk);
          else await sideClient.del(...chunk);
        }
        await closeQuietly(memoryLoader);
        sideClient.disconnect();
      }
    };

    return {
      name: 'redis',
      rawClient: 'ioredis GET/SET',
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
          // A shared server: remove only what the bench wrote.
          await larder.clear().catch(() => {});
          const written = rawKeysWritten(context.options.keys);
          for (let i = 0; i < written.length; i += 1000) {
            await rawClient.unlink(...written.slice(i, i + 1000)).catch(() => 0);
          }
        }
        await disconnect();
        await server.stop();
      }),
    };
  } catch (error) {
    await closeQuietly(store);
    client?.disconnect();
    await server.stop();
    throw error;
  }
}
