import { Cache, CacheConfigError, checkOptions, parseTtl, type Ttl } from '@larder/core';

/** Options of `pageCache`, `cachePage` and `fastifyPageCache`. */
export interface PageCacheOptions {
  /** The Larder cache the pages are kept in (a namespace of it works too). Required. */
  cache: Cache;
  /** How long a page is kept; a response's `s-maxage` / `max-age` shortens it. @default '5m' */
  ttl?: Ttl;
  /** Request headers always part of the key, on top of those the response names in `Vary`. @default [] */
  vary?: string[];
  /** Response statuses that may be cached. @default [200] */
  statuses?: number[];
  /** Larger responses pass through uncached. @default 1_048_576 (1 MiB) */
  maxBodyBytes?: number;
  /**
   * The page is the same for every user: cache and serve it even for requests that carry a
   * `Cookie` or `Authorization` header. Only for routes that never read who is asking.
   * @default false
   */
  shared?: boolean;
  /** Name of the header that says `HIT`, `MISS` or `BYPASS`; `false` sends none. @default 'X-Cache' */
  header?: string | false;
  /** Sends `Server-Timing: cache;desc="HIT";dur=0.4` on every response that went through the cache. @default true */
  serverTiming?: boolean;
  /**
   * Adds the hits and misses the request made through `cache` (fragments, `wrap`, sessions) to
   * `Server-Timing` (`cache-ops;desc="hits=3 misses=1"`). Costs a listener per cache event.
   * @default false
   */
  countCacheOps?: boolean;
  /** How long concurrent misses of one page wait for the first one's response before running the handler themselves, in ms. @default 5000 */
  waitTimeout?: number;
}

/** Options with every default applied, checked once. */
export interface ResolvedOptions {
  cache: Cache;
  ttlMs: number;
  vary: string[];
  statuses: ReadonlySet<number>;
  maxBodyBytes: number;
  shared: boolean;
  header: string | false;
  serverTiming: boolean;
  countCacheOps: boolean;
  waitTimeoutMs: number;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Checks page-cache options at set-up; a bad one throws `CacheConfigError` naming it. */
export function resolveOptions(owner: string, options: PageCacheOptions | undefined): ResolvedOptions {
  checkOptions(owner, options, {
    cache: { accepts: 'a Larder Cache (createCache())', check: (value) => value instanceof Cache },
    ttl: ['number', 'string'],
    vary: { accepts: 'a list of request header names', check: isHeaderList },
    statuses: {
      accepts: 'a list of HTTP statuses such as [200, 404]',
      check: (value) =>
        Array.isArray(value) && value.every((s) => Number.isInteger(s) && s >= 200 && s <= 599 && s !== 206),
    },
    maxBodyBytes: {
      accepts: 'a positive number of bytes',
      check: (value) => typeof value === 'number' && Number.isFinite(value) && value > 0,
    },
    shared: 'boolean',
    header: {
      accepts: 'a header name or false',
      check: (value) => value === false || (typeof value === 'string' && HEADER_NAME.test(value)),
    },
    serverTiming: 'boolean',
    countCacheOps: 'boolean',
    waitTimeout: {
      accepts: 'a number of ms from 0 to 60000',
      check: (value) => typeof value === 'number' && value >= 0 && value <= 60_000,
    },
  });
  if (options === undefined || options.cache === undefined) {
    throw new CacheConfigError(`${owner} option cache is required: pass { cache: createCache({ store }) }`);
  }
  const ttlMs = parseTtl(options.ttl ?? '5m', `${owner} option ttl`);
  if (ttlMs === 0 || ttlMs === Number.POSITIVE_INFINITY) {
    throw new CacheConfigError(`${owner} option ttl must be a positive, finite duration such as '5m'`);
  }
  return {
    cache: options.cache,
    ttlMs,
    vary: [...new Set((options.vary ?? []).map((name) => name.toLowerCase()))].sort(),
    statuses: new Set(options.statuses ?? [200]),
    maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
    shared: options.shared ?? false,
    header: options.header ?? 'X-Cache',
    serverTiming: options.serverTiming ?? true,
    countCacheOps: options.countCacheOps ?? false,
    waitTimeoutMs: options.waitTimeout ?? 5000,
  };
}

function isHeaderList(value: unknown): boolean {
  return Array.isArray(value) && value.every((name) => typeof name === 'string' && HEADER_NAME.test(name));
}
