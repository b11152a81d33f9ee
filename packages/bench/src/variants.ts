import { type CacheOptions, createCache, type Store } from '@larder/core';
import { BENCH_CACHE_PREFIX, type BenchBackend, larderSide, QUIET } from './backends/backend.js';
import { hotKeys } from './data.js';
import { packageVersion } from './env.js';
import type { SideMaker } from './peers.js';
import type { VariantName } from './types.js';

/** Which Larder variants run beside which backend, in every run. */
export const VARIANTS_OF: Partial<Record<BenchBackend['name'], VariantName[]>> = {
  memory: ['larder-prometheus', 'larder-tags'],
  redis: ['larder-l1', 'larder-tags'],
};

/** The tags of a tagged entry: one every entry shares and one of about 100 groups (its key's last two digits). */
export const tagsOf = (key: string): string[] => ['bench', `group:${key.slice(-2)}`];

/** The store with its `get` counted: the reads an L1 did not answer. */
function countReads(store: Store, count: () => void): Store {
  return new Proxy(store, {
    get(target, name) {
      if (name === 'get') {
        return (key: string) => {
          count();
          return target.get(key);
        };
      }
      const value: unknown = Reflect.get(target, name, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** A second cache over the backend's own store, under `prefix`; closing it must leave the store open. */
const variantCache = (store: Store, prefix: string, options: Partial<CacheOptions> = {}) =>
  createCache({ store, prefix, logger: QUIET, ...options });

/** Its own prefix on the shared store is cleared; the store closes with the backend. */
const clearing = (cache: ReturnType<typeof createCache>) => async () =>
  void (await cache.clear().catch(() => false));

/** How each variant is set up beside plain Larder. */
export const VARIANT_MAKERS: Record<VariantName, SideMaker> = {
  'larder-prometheus': async (backend) => {
    const { Registry } = await import('prom-client');
    const { collectPrometheus } = await import('@larder/metrics');
    // The same store and prefix as plain Larder: it reads the keys Larder's side loaded.
    const cache = variantCache(backend.larder.store, BENCH_CACHE_PREFIX);
    const registry = new Registry();
    const collector = collectPrometheus(cache, { registry, name: 'bench' });
    return {
      label: `Larder + Prometheus collector (prom-client ${packageVersion('prom-client') ?? '?'})`,
      shared: true,
      workloads: ['get-hit'],
      ...larderSide(cache),
      // Scraped before each of its timed windows, as an exporter is scraped between calls.
      prepare: () => registry.metrics(),
      close: async () => collector.stop(),
    };
  },
  'larder-l1': async (backend, data) => {
    let reads = 0;
    let storeReads = 0;
    const store = countReads(backend.larder.store, () => storeReads++);
    // Room for the hot tenth and the cold reads passing through it; no bus (one process).
    const l1 = { maxEntries: hotKeys(data.keys.length) * 2 };
    const cache = variantCache(store, `${BENCH_CACHE_PREFIX}-l1`, { l1 });
    const { driver, swallowed } = larderSide(cache);
    const get = (key: string) => {
      reads++;
      return driver.get(key);
    };
    return {
      label: 'Larder + L1 (no bus)',
      workloads: ['get-hot'],
      swallowed,
      driver: { ...driver, get },
      note() {
        const share = reads > 0 ? 1 - storeReads / reads : 0;
        reads = storeReads = 0;
        return `L1 hits ${(share * 100).toFixed(1)} % (L1 of ${l1.maxEntries.toLocaleString('en-US')} entries)`;
      },
      close: clearing(cache),
    };
  },
  'larder-tags': async (backend) => {
    // Its own prefix: the working set is loaded again through this side's `set`, with tags.
    const cache = variantCache(backend.larder.store, `${BENCH_CACHE_PREFIX}-tags`);
    const { driver, swallowed } = larderSide(cache);
    return {
      label: 'Larder, entries with 2 tags',
      workloads: ['get-hit'],
      swallowed,
      // Each read also fetches its tags' versions from the store (one getMany) to check them.
      driver: { ...driver, set: (key, value) => cache.set(key, value, { tags: tagsOf(key) }) },
      close: clearing(cache),
    };
  },
};
