import type { Cache } from './cache.js';
import { CacheConfigError } from './errors.js';
import { parseTtl, type Ttl } from './ttl.js';

/** One entry to warm: the key and the function that loads its value. */
export type WarmEntry = readonly [key: string, loader: () => unknown];

/** Progress of a warm run, reported after each entry. */
export interface WarmProgress {
  /** Entries finished so far (written + failed + skipped). */
  done: number;
  written: number;
  failed: number;
  skipped: number;
}

/** Options for `cache.warm(entries, options)`. */
export interface WarmOptions {
  /** Entries loaded and written at the same time. @default 8 */
  concurrency?: number;
  /** TTL of every warmed value. @default the cache's defaultTtl */
  ttl?: Ttl;
  /** Called after each entry with the running counts. */
  onProgress?: (progress: WarmProgress) => void;
}

/** What a warm run did. */
export interface WarmResult {
  /** Values stored. */
  written: number;
  /** Entries whose loader threw or whose write failed. */
  failed: number;
  /** Entries whose loader returned `undefined` (nothing to store). */
  skipped: number;
  /** Wall time of the run in ms. */
  ms: number;
  /** Why the run ended before the last entry, when it did (the circuit breaker opened). */
  stoppedEarly?: string;
}

/**
 * Loads and stores `entries` with bounded concurrency. A failure is counted and the run goes
 * on; the run stops early (and says so in `stoppedEarly`) when the cache's circuit breaker
 * opens, since every later write would be skipped anyway.
 */
export async function warmCache(
  cache: Cache,
  entries: Iterable<WarmEntry> | AsyncIterable<WarmEntry>,
  options: WarmOptions,
  circuitOpen: () => boolean,
): Promise<WarmResult> {
  const concurrency = options.concurrency ?? 8;
  if (!(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 1024)) {
    throw new CacheConfigError(`warm option concurrency ${concurrency} must be an integer from 1 to 1024`);
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new CacheConfigError('warm option onProgress must be a function');
  }
  if (options.ttl !== undefined) parseTtl(options.ttl, 'warm option ttl');
  const iterator = iterate(entries);
  const started = performance.now();
  const counts: WarmProgress = { done: 0, written: 0, failed: 0, skipped: 0 };
  let stoppedEarly: string | undefined;
  // Pulls are chained so concurrent workers never call next() on the iterator at once.
  let pulling: Promise<unknown> = Promise.resolve();
  const next = (): Promise<IteratorResult<WarmEntry>> => {
    const pulled = pulling.then(() => iterator.next());
    pulling = pulled.catch(() => undefined);
    return pulled;
  };
  const finish = (outcome: 'written' | 'failed' | 'skipped') => {
    counts[outcome]++;
    counts.done++;
    options.onProgress?.({ ...counts });
  };
  const worker = async () => {
    while (stoppedEarly === undefined) {
      if (circuitOpen()) {
        stoppedEarly =
          'the circuit breaker opened: the store is failing, so the remaining entries were not tried';
        return;
      }
      const item = await next();
      if (item.done) return;
      const entry = item.value;
      if (!Array.isArray(entry) || typeof entry[1] !== 'function') {
        throw new CacheConfigError('warm entries must be [key, loader] pairs with a loader function');
      }
      const [key, loader] = entry;
      let value: unknown;
      try {
        value = await loader();
      } catch {
        finish('failed');
        continue;
      }
      if (value === undefined) {
        finish('skipped');
        continue;
      }
      let stored: boolean;
      try {
        stored = await cache.set(key, value, options.ttl === undefined ? undefined : { ttl: options.ttl });
      } catch (error) {
        if (error instanceof CacheConfigError) throw error;
        stored = false;
      }
      finish(stored ? 'written' : 'failed');
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    if (stoppedEarly !== undefined) await iterator.return?.();
  }
  const result: WarmResult = {
    written: counts.written,
    failed: counts.failed,
    skipped: counts.skipped,
    ms: performance.now() - started,
  };
  if (stoppedEarly !== undefined) result.stoppedEarly = stoppedEarly;
  return result;
}

function iterate(
  entries: Iterable<WarmEntry> | AsyncIterable<WarmEntry>,
): Iterator<WarmEntry> | AsyncIterator<WarmEntry> {
  if (entries !== null && typeof entries === 'object') {
    if (Symbol.asyncIterator in entries) return entries[Symbol.asyncIterator]();
    if (Symbol.iterator in entries) return entries[Symbol.iterator]();
  }
  throw new CacheConfigError('warm takes an iterable or async iterable of [key, loader] pairs');
}
