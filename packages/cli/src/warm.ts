import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Cache, CacheConfigError, type Ttl } from '@larder/core';

/** One warm entry: `[key, value]` or `{ key, value, ttl }`. */
export type WarmEntry = readonly [string, unknown] | { key: string; value: unknown; ttl?: Ttl };

/** What a warm module exports (named, or as its default export). */
export interface WarmModule {
  cache: Cache;
  /** The entries, or a function that returns them (sync or async); any iterable or async iterable. */
  entries: Iterable<WarmEntry> | AsyncIterable<WarmEntry> | (() => unknown);
}

/** What `warm` did. */
export interface WarmReport {
  /** `cache.warm` when the cache has one, else Larder CLI's own bounded loop. */
  method: 'cache.warm' | 'set';
  total: number;
  stored: number;
  failed: number;
  ms: number;
  /** What `cache.warm` returned, when it was used. */
  result?: unknown;
}

/** Options for `warm`. */
export interface WarmOptions {
  /** Sets in flight at once (the CLI's own loop). @default 16 */
  concurrency?: number;
  /** Called after each entry with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

/** Imports a user module exporting `cache` and `entries` and warms the cache with them. */
export async function loadWarmModule(path: string): Promise<WarmModule> {
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  } catch (error) {
    throw new CacheConfigError(`could not import ${path}: ${(error as Error).message.split('\n')[0]}`);
  }
  const source = (
    loaded.cache === undefined && typeof loaded.default === 'object' ? loaded.default : loaded
  ) as Record<string, unknown>;
  const cache = source.cache as Cache | undefined;
  if (cache === undefined || typeof (cache as { set?: unknown }).set !== 'function') {
    throw new CacheConfigError(
      `${path} must export \`cache\` (a Larder cache) and \`entries\`; it exports ${Object.keys(loaded).join(', ') || 'nothing'}`,
    );
  }
  if (source.entries === undefined)
    throw new CacheConfigError(`${path} exports no \`entries\` to warm the cache with`);
  return { cache, entries: source.entries as WarmModule['entries'] };
}

/** Warms `cache`: through `cache.warm` when it exists, else with bounded-concurrency sets. */
export async function warm(module: WarmModule, options: WarmOptions = {}): Promise<WarmReport> {
  const concurrency = options.concurrency ?? 16;
  if (!(Number.isInteger(concurrency) && concurrency > 0)) {
    throw new CacheConfigError(`--concurrency ${concurrency} must be a positive integer`);
  }
  const started = performance.now();
  const raw = typeof module.entries === 'function' ? await module.entries() : module.entries;
  const entries: WarmEntry[] = [];
  for await (const entry of raw as AsyncIterable<WarmEntry>) entries.push(entry);
  const cache = module.cache as Cache & { warm?: (entries: unknown) => Promise<unknown> };
  if (typeof cache.warm === 'function') {
    options.onProgress?.(0, entries.length);
    const result = await cache.warm(entries);
    options.onProgress?.(entries.length, entries.length);
    return {
      method: 'cache.warm',
      total: entries.length,
      stored: entries.length,
      failed: 0,
      ms: performance.now() - started,
      result,
    };
  }
  let next = 0;
  let done = 0;
  let stored = 0;
  const worker = async () => {
    while (next < entries.length) {
      const entry = entries[next++]!;
      const [key, value, ttl] = Array.isArray(entry)
        ? [entry[0], entry[1], undefined]
        : [(entry as { key: string }).key, (entry as { value: unknown }).value, (entry as { ttl?: Ttl }).ttl];
      try {
        if (await cache.set(key as string, value, ttl === undefined ? undefined : { ttl })) stored++;
      } catch {
        // Counted as failed below; a cache with ignoreErrors off throws instead of answering false.
      }
      options.onProgress?.(++done, entries.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, entries.length) }, worker));
  return {
    method: 'set',
    total: entries.length,
    stored,
    failed: entries.length - stored,
    ms: performance.now() - started,
  };
}

/** A one-line progress bar: `[█████·····]  512/1024`. */
export function progressBar(done: number, total: number, width = 30): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'█'.repeat(filled)}${'·'.repeat(width - filled)}] ${String(done).padStart(String(total).length)}/${total}`;
}
