import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Cache, CacheConfigError, type Ttl } from '@larder/core';

/**
 * One warm entry: `cache.warm`'s `[key, loader]`, or for a module that already holds the
 * values, `[key, value]` or `{ key, value, ttl }`.
 */
export type WarmEntry =
  | readonly [string, () => unknown]
  | readonly [string, unknown]
  | { key: string; value: unknown; ttl?: Ttl };

/** What a warm module exports (named, or as its default export). */
export interface WarmModule {
  cache: Cache;
  /** The entries, or a function that returns them (sync or async); any iterable or async iterable. */
  entries: Iterable<WarmEntry> | AsyncIterable<WarmEntry> | (() => unknown);
}

/** What `warm` did: `cache.warm`'s counts, summed over the TTL groups. */
export interface WarmReport {
  total: number;
  written: number;
  failed: number;
  skipped: number;
  ms: number;
  /** Why the run ended before the last entry (the circuit breaker opened). */
  stoppedEarly?: string;
}

/** Options for `warm`. */
export interface WarmOptions {
  /** Entries loaded and written at once. @default 16 */
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

/** Warms `cache` with `cache.warm`, one run per TTL the entries ask for. */
export async function warm(module: WarmModule, options: WarmOptions = {}): Promise<WarmReport> {
  const started = performance.now();
  const raw = typeof module.entries === 'function' ? await module.entries() : module.entries;
  // Entries grouped by TTL (`undefined`: the cache's default), each as [key, loader].
  const groups = new Map<Ttl | undefined, [string, () => unknown][]>();
  let total = 0;
  for await (const entry of raw as AsyncIterable<WarmEntry>) {
    const [key, load, ttl] = Array.isArray(entry)
      ? [entry[0], typeof entry[1] === 'function' ? entry[1] : () => entry[1], undefined]
      : [
          (entry as { key: string }).key,
          () => (entry as { value: unknown }).value,
          (entry as { ttl?: Ttl }).ttl,
        ];
    const group = groups.get(ttl) ?? [];
    group.push([key as string, load as () => unknown]);
    groups.set(ttl, group);
    total++;
  }
  const report: WarmReport = { total, written: 0, failed: 0, skipped: 0, ms: 0 };
  options.onProgress?.(0, total);
  for (const [ttl, entries] of groups) {
    const before = report.written + report.failed + report.skipped;
    const result = await module.cache.warm(entries, {
      concurrency: options.concurrency ?? 16,
      ...(ttl === undefined ? {} : { ttl }),
      onProgress: (progress) => options.onProgress?.(before + progress.done, total),
    });
    report.written += result.written;
    report.failed += result.failed;
    report.skipped += result.skipped;
    if (result.stoppedEarly !== undefined) {
      report.stoppedEarly = result.stoppedEarly;
      break;
    }
  }
  report.ms = performance.now() - started;
  return report;
}

/** A one-line progress bar: `[█████·····]  512/1024`. */
export function progressBar(done: number, total: number, width = 30): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'█'.repeat(filled)}${'·'.repeat(width - filled)}] ${String(done).padStart(String(total).length)}/${total}`;
}
