import { Redis } from 'ioredis';
import { type BenchBackend, type Driver, type Entries, loadBatches } from './backends/backend.js';
import { type Dataset, workingSet } from './data.js';
import { packageVersion } from './env.js';
import type { Contender } from './measure.js';
import type { PeerName, Skipped, VariantName, WorkloadId } from './types.js';
import { VARIANT_MAKERS, VARIANTS_OF } from './variants.js';

/** A side beyond Larder and raw on a backend: the workloads it runs; `close` removes what it wrote. */
export type ExtraSide = Contender & { workloads: readonly WorkloadId[]; close(): Promise<void> };

/** Sets up an extra side; `shared` when it reads the data Larder's side loaded. Peers run plain get and set. */
export type SideMaker = (
  backend: BenchBackend,
  data: Dataset,
) => Promise<Omit<ExtraSide, 'side' | 'workloads'> & { workloads?: WorkloadId[]; shared?: true }>;

const PEER_WORKLOADS: WorkloadId[] = ['get-hit', 'get-miss', 'set', 'mixed'];
const INSTALL_PEERS = 'install the bench devDependencies (`pnpm install` at the repository root)';

/** The same TTL as Larder's default and the raw clients' `EX 3600`. */
const TTL_MS = 3_600_000;

/** Which peers sit beside which backend. */
export const PEERS_OF: Partial<Record<BenchBackend['name'], PeerName[]>> = {
  memory: ['lru-cache'],
  redis: ['keyv', 'cache-manager', 'bentocache'],
};

const label = (name: string) => `${name} ${packageVersion(name) ?? '?'}`;

/** Keyv 5 over @keyv/redis (node-redis underneath), in its own namespace. */
async function keyvOn(url: string, namespace: string) {
  const { Keyv } = await import('keyv');
  const { default: KeyvRedis } = await import('@keyv/redis');
  return new Keyv({ store: new KeyvRedis(url), namespace });
}

/** How each peer is set up, used as its documentation shows, with the same TTL as Larder's default. */
const MAKERS: Record<PeerName, SideMaker> = {
  keyv: async ({ url = '' }) => {
    const keyv = await keyvOn(url, 'bench-keyv');
    return {
      label: `${label('keyv')} + ${label('@keyv/redis')}`,
      driver: { get: (key) => keyv.get(key), set: (key, value) => keyv.set(key, value, TTL_MS) },
      close: async () => {
        await keyv.clear();
        await keyv.disconnect();
      },
    };
  },
  'cache-manager': async ({ url = '' }) => {
    const { createCache } = await import('cache-manager');
    const cache = createCache({ stores: [await keyvOn(url, 'bench-cm')], ttl: TTL_MS });
    return {
      label: `${label('cache-manager')} over Keyv + @keyv/redis`,
      driver: {
        get: async (key) => (await cache.get(key)) ?? undefined,
        set: async (key, value) => (await cache.set(key, value, TTL_MS)) !== undefined,
      },
      close: async () => {
        await cache.clear();
        await cache.disconnect();
      },
    };
  },
  bentocache: async ({ url = '' }) => {
    const { BentoCache, bentostore } = await import('bentocache');
    const { redisDriver } = await import('bentocache/drivers/redis');
    const client = new Redis(url);
    client.on('error', () => {});
    // bentocache 1.6 declares ioredis 5 as its peer; the workspace's ioredis 6 serves the same calls.
    const l2 = bentostore().useL2Layer(redisDriver({ connection: client as never }));
    const bento = new BentoCache({ default: 'redis', prefix: 'bench-bento', stores: { redis: l2 } });
    return {
      label: `${label('bentocache')} (Redis driver, L2 only)`,
      driver: {
        get: (key) => bento.get({ key }),
        set: (key, value) => bento.set({ key, value, ttl: TTL_MS }),
      },
      close: async () => {
        await bento.clear();
        await bento.disconnectAll();
        client.disconnect();
      },
    };
  },
  'lru-cache': async () => {
    const { LRUCache } = await import('lru-cache');
    // Objects as they are, no serialization: how lru-cache is used (readers share one object).
    const lru = new LRUCache<string, object>({ max: 1_000_000, ttl: TTL_MS });
    return {
      label: `${label('lru-cache')} (objects, not copied)`,
      driver: {
        get: async (key) => lru.get(key),
        set: async (key, value) => lru.set(key, value as object) !== undefined,
      },
      close: async () => lru.clear(),
    };
  },
};

/** Writes the working set through a side's own `set`, 400 writes in flight (never timed). */
async function loadThrough(driver: Driver, data: Dataset): Promise<void> {
  const write = async (entries: Entries) => {
    const stored = await Promise.all(entries.map(([key, value]) => driver.set(key, value)));
    const lost = stored.filter((ok) => !ok).length;
    if (lost > 0) throw new Error(`${lost} of ${entries.length} writes through this side were not stored`);
  };
  // Not more: a loaded host must not push a variant's writes past its 1 s deadline.
  await loadBatches(workingSet(data, 100), write);
}

/**
 * The peers (with --peers) and the Larder variants that sit beside `backend`, set up and loaded.
 * One that is not installed or fails to start is skipped with the reason; the run goes on.
 */
export async function startExtras(backend: BenchBackend, data: Dataset, peers: boolean) {
  const extras: ExtraSide[] = [];
  const skipped: Skipped[] = [];
  const names = [...(peers ? (PEERS_OF[backend.name] ?? []) : []), ...(VARIANTS_OF[backend.name] ?? [])];
  for (const name of names) {
    const make = ({ ...MAKERS, ...VARIANT_MAKERS } as Record<PeerName | VariantName, SideMaker>)[name];
    let extra: ExtraSide | undefined;
    try {
      const made = await make(backend, data);
      extra = { side: name, workloads: PEER_WORKLOADS, ...made };
      if (!made.shared) await loadThrough(extra.driver, data);
      extras.push(extra);
    } catch (error) {
      await extra?.close().catch(() => {});
      const reason = `${name} could not run on ${backend.name}: ${(error as Error).message.split('\n')[0]}`;
      skipped.push({ name, reason, fix: INSTALL_PEERS });
    }
  }
  return { extras, skipped };
}
