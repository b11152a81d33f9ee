import type { CallOptions, GetOrSetOptions, Shared, WriteOptions } from './cache-options.js';
import { CacheConfigError } from './errors.js';
import { refreshingGetOrSet, refreshSettings } from './refresh.js';
import { graceOf, resolveTtl } from './ttl.js';
import type { CacheView } from './view.js';

/** What `getOrSet` uses of its cache: the shared state, the view, and the cache's own read and write. */
export interface GetOrSetIo {
  readonly s: Shared;
  readonly v: CacheView;
  get<T>(key: string, options: CallOptions | undefined): Promise<T | undefined>;
  write(
    key: string,
    value: unknown,
    options: WriteOptions | undefined,
    pinned: number[] | undefined,
  ): Promise<boolean>;
}

/** A signal for factories of the plain `getOrSet`, which are never abandoned. */
const NEVER_ABORTED = new AbortController().signal;

/**
 * `Cache.getOrSet`: one flight per key in this process; the plain path (read, factory, write
 * under one deadline, unless the key changed while the factory ran), or the refreshing one
 * (grace, timeouts, lock).
 */
export async function getOrSet<T>(
  io: GetOrSetIo,
  key: string,
  factory: (signal: AbortSignal) => T | Promise<T>,
  options: GetOrSetOptions | undefined,
): Promise<T> {
  const { s, v } = io;
  const body = v.body(key);
  // Bad input fails now, not after the store read and the factory.
  resolveTtl(s.policy, options?.ttl);
  if (options?.grace !== undefined) graceOf(options.grace);
  const refreshing =
    options !== undefined &&
    (options.grace !== undefined ||
      options.softTimeout !== undefined ||
      options.hardTimeout !== undefined ||
      (options.lock !== undefined && options.lock !== false))
      ? refreshSettings(options)
      : undefined;
  if (typeof factory !== 'function') {
    throw new CacheConfigError(`getOrSet needs a factory function, got ${typeof factory}`, { key });
  }
  const slot = v.slot(key, options);
  const flights = s.flights;
  const running = flights.get(slot);
  if (running !== undefined) return running as Promise<T>;
  const guard = s.guards.open(slot, s.l1 === undefined ? undefined : v.keyNow(body, options));
  const releaseGuard = guard.hold();
  const flight =
    refreshing === undefined
      ? (async () => {
          const started = performance.now();
          const cached = await io.get<T>(key, options);
          if (cached !== undefined) return cached;
          // One deadline for the whole call: the write gets what the read left of it.
          const left = s.timeoutMs - (performance.now() - started);
          guard.factoryStarted();
          const pinned = await v.pinTags(options, left);
          const value = await factory(NEVER_ABORTED);
          // Written, deleted or invalidated since the factory started: keep the newer state.
          if (value !== undefined && !guard.superseded) {
            const rest = s.timeoutMs - (performance.now() - started);
            await v.within(rest, io.write(key, value, options, pinned), key);
          }
          return value;
        })()
      : refreshingGetOrSet(
          v.refreshIo(
            key,
            body,
            slot,
            options!,
            (value, pinned) => io.write(key, value, options, pinned),
            guard,
          ),
          factory,
          refreshing,
        );
  flights.set(slot, flight);
  const release = () => {
    if (flights.get(slot) === flight) flights.delete(slot);
    releaseGuard();
  };
  flight.then(release, release);
  return flight;
}
