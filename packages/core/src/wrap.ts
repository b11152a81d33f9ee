import type { Cache, WriteOptions } from './cache.js';
import { CacheConfigError } from './errors.js';
import type { Ttl } from './ttl.js';

/** Options for `cache.wrap(fn, options)`. */
export interface WrapOptions<A extends unknown[]> {
  /**
   * Names the function in its keys (`key(name, ...args)`). Two wrapped functions with one
   * name share entries, so anonymous functions must be given one.
   * @default fn.name
   */
  name?: string;
  /** Builds the cache key from the arguments. @default cache.key(name, ...args), objects as JSON */
  key?: (...args: A) => string;
  /** TTL of each memoized result. @default the cache's defaultTtl */
  ttl?: Ttl;
  /** Version the results are written under. @default the cache's version */
  version?: WriteOptions['version'];
}

/** A memoized async function: same arguments, one call per TTL, one flight per key at a time. */
export interface WrappedFunction<A extends unknown[], R> {
  (...args: A): Promise<Awaited<R>>;
  /** The cache key the arguments map to. */
  key(...args: A): string;
  /** Drops the memoized result for these arguments; resolves whether one was removed. */
  forget(...args: A): Promise<boolean>;
}

/**
 * Memoizes `fn` in `cache`: the result for a set of arguments is read from the cache, or
 * computed once (however many callers miss at once in this process, through `getOrSet`)
 * and stored. Errors reach the caller and are not cached; an `undefined` result is not stored.
 */
export function wrapFunction<A extends unknown[], R>(
  cache: Cache,
  fn: (...args: A) => R | Promise<R>,
  options: WrapOptions<A> = {},
): WrappedFunction<A, R> {
  if (typeof fn !== 'function') {
    throw new CacheConfigError(`wrap takes a function, got ${fn === null ? 'null' : typeof fn}`);
  }
  const keyOf = options.key ?? defaultKey(cache, options.name ?? fn.name);
  if (typeof keyOf !== 'function')
    throw new CacheConfigError('wrap option key must be a function of the arguments');
  const writeOptions: WriteOptions = {};
  if (options.ttl !== undefined) writeOptions.ttl = options.ttl;
  if (options.version !== undefined) writeOptions.version = options.version;
  const wrapped = (...args: A) =>
    cache.getOrSet(keyOf(...args), () => fn(...args), writeOptions) as Promise<Awaited<R>>;
  return Object.assign(wrapped, {
    key: (...args: A) => keyOf(...args),
    forget: (...args: A) =>
      cache.delete(keyOf(...args), options.version === undefined ? undefined : { version: options.version }),
  });
}

function defaultKey<A extends unknown[]>(cache: Cache, name: string): (...args: A) => string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new CacheConfigError(
      'wrap needs a name for an anonymous function (its keys would collide with other anonymous ones); pass { name } or { key }',
    );
  }
  return (...args: A) => cache.key('fn', name, ...args.map(keyPart));
}

/** Strings and finite numbers are key parts as they are; anything else is its JSON text. */
function keyPart(arg: unknown): string | number {
  if (typeof arg === 'string') return arg;
  if (typeof arg === 'number' && Number.isFinite(arg)) return arg;
  const text = arg === undefined ? 'undefined' : JSON.stringify(arg);
  if (text === undefined) {
    throw new CacheConfigError(
      `a wrapped function's argument of type ${typeof arg} has no key form; pass { key } to build keys yourself`,
    );
  }
  // A JSON string would meet the plain string with the same text, so mark JSON forms.
  return `\u0000${text}`;
}
