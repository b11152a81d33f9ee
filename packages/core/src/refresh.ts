import { randomBytes } from 'node:crypto';
import type { GetOrSetOptions } from './cache-options.js';
import { CacheConfigError, FactoryTimeoutError } from './errors.js';
import { parseTtl } from './ttl.js';
import type { WriteGuard } from './write-guard.js';

/** What the refreshing `getOrSet` needs from its cache; the cache builds it per call. */
export interface RefreshIo {
  /**
   * The entry under `key`, fresh or stale (within its grace), or `undefined` for a miss.
   * Counted in the stats unless `counted` is false (a lease waiter's later looks: one call
   * counts one hit or miss, however often it looks).
   */
  peek(counted?: boolean): Promise<{ value: unknown; fresh: boolean } | undefined>;
  /** Reads the call's tag versions before the factory runs (see `CacheView.pinTags`). */
  pinTags(): Promise<number[] | undefined>;
  /** Writes the factory's value with the call's options (TTL, grace, version), under `pinned` tag versions. */
  write(value: unknown, pinned: number[] | undefined): Promise<boolean>;
  /** Counts a stale value served. */
  servedStale(): void;
  lease: {
    /** Atomic set-if-absent of the lease; resolves whether this caller now holds it. */
    acquire(token: string, ttlMs: number): Promise<boolean>;
    /** The current holder's token, `undefined` when nobody holds the lease. */
    holder(): Promise<string | undefined>;
    /** Drops the lease. */
    drop(): Promise<void>;
  };
  /** Until when the factory of this key must not run again (after a failure with a stale value). */
  retryAfter: Map<string, number>;
  /** Tells whether the key changed since the factory started, and wakes waiters when another process wrote it. */
  guard: WriteGuard;
  slot: string;
  now(): number;
}

/** Checks the refreshing options once, before any I/O. */
export function refreshSettings(options: GetOrSetOptions) {
  const ms = (name: string, value: number | undefined) => {
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      throw new CacheConfigError(`getOrSet option ${name} ${value} must be a positive number of ms`);
    }
    return value;
  };
  const lock = options.lock === true ? {} : options.lock || undefined;
  const leaseTtlMs = lock === undefined ? 0 : parseTtl(lock.ttl ?? '5s', 'lock.ttl');
  if (lock !== undefined && !(leaseTtlMs > 0 && Number.isFinite(leaseTtlMs))) {
    throw new CacheConfigError('getOrSet option lock.ttl must be a positive, finite TTL');
  }
  return {
    softTimeoutMs: ms('softTimeout', options.softTimeout),
    hardTimeoutMs: ms('hardTimeout', options.hardTimeout),
    backoffMs: ms('failureBackoff', options.failureBackoff) ?? 5000,
    lock:
      lock === undefined
        ? undefined
        : { ttlMs: leaseTtlMs, waitMs: ms('lock.wait', lock.wait) ?? 2 * leaseTtlMs },
  };
}

type Settings = ReturnType<typeof refreshSettings>;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * `getOrSet` with stale-while-revalidate, factory timeouts, failure backoff and a
 * cross-process lease. The plain `getOrSet` path stays separate: it is the hot one.
 */
export async function refreshingGetOrSet<T>(
  io: RefreshIo,
  factory: (signal: AbortSignal) => T | Promise<T>,
  settings: Settings,
): Promise<T> {
  const entry = await io.peek();
  if (entry?.fresh) return entry.value as T;
  const stale = entry;
  if (stale !== undefined && (io.retryAfter.get(io.slot) ?? 0) > io.now()) {
    io.servedStale();
    return stale.value as T;
  }
  let token: string | undefined;
  if (settings.lock !== undefined) {
    token = randomBytes(16).toString('hex');
    if (await io.lease.acquire(token, settings.lock.ttlMs)) {
      const written = await freshAfterAcquire(io);
      if (written !== undefined) return written.value as T;
    } else {
      if (stale !== undefined) {
        // Another process refreshes it: serve what we have rather than wait.
        io.servedStale();
        return stale.value as T;
      }
      const waited = await waitForValue(io, token, settings.lock);
      if (waited.found) return waited.value as T;
      if (!waited.holding) token = undefined;
    }
  }
  return runFactory(io, factory, settings, stale, token);
}

/**
 * Waits for the lease holder's value: polls with a growing pause, and looks at once when the
 * bus says another process wrote the key. Takes the lease over when the holder is gone.
 */
async function waitForValue(
  io: RefreshIo,
  token: string,
  lock: { ttlMs: number; waitMs: number },
): Promise<{ found: true; value: unknown } | { found: false; holding: boolean }> {
  const until = performance.now() + lock.waitMs;
  let pause = 25;
  while (performance.now() < until) {
    await Promise.race([sleep(Math.min(pause, Math.max(1, until - performance.now()))), io.guard.changed()]);
    pause = Math.min(pause * 2, 200);
    const entry = await io.peek(false);
    if (entry?.fresh) return { found: true, value: entry.value };
    if ((await io.lease.holder()) === undefined && (await io.lease.acquire(token, lock.ttlMs))) {
      const written = await freshAfterAcquire(io);
      return written === undefined ? { found: false, holding: true } : { found: true, value: written.value };
    }
  }
  // Out of patience: compute it ourselves (the holder may still write; both values are fresh).
  return { found: false, holding: false };
}

/**
 * Right after winning the lease: the previous holder may have written the value and let the
 * lease go between our read and our `add`. Read once more; when the value is there, give the
 * lease back and use it rather than run the factory a second time.
 */
async function freshAfterAcquire(io: RefreshIo): Promise<{ value: unknown } | undefined> {
  const entry = await io.peek(false);
  if (!entry?.fresh) return undefined;
  await io.lease.drop().catch(() => {});
  return { value: entry.value };
}

async function runFactory<T>(
  io: RefreshIo,
  factory: (signal: AbortSignal) => T | Promise<T>,
  settings: Settings,
  stale: { value: unknown } | undefined,
  token: string | undefined,
): Promise<T> {
  const controller = new AbortController();
  io.guard.factoryStarted();
  const releaseGuard = io.guard.hold();
  const work = (async () => {
    try {
      const pinned = await io.pinTags();
      const value = await factory(controller.signal);
      if (controller.signal.aborted) return value;
      // Written, deleted or invalidated since the factory started: keep the newer state.
      if (value !== undefined && !io.guard.superseded) await io.write(value, pinned);
      io.retryAfter.delete(io.slot);
      return value;
    } finally {
      releaseGuard();
      if (token !== undefined && (await io.lease.holder().catch(() => undefined)) === token) {
        await io.lease.drop().catch(() => {});
      }
    }
  })();
  const timers: NodeJS.Timeout[] = [];
  const after = (ms: number | undefined, outcome: () => T | never) =>
    ms === undefined
      ? new Promise<never>(() => {})
      : new Promise<T>((resolve, reject) => {
          timers.push(
            setTimeout(() => {
              try {
                resolve(outcome());
              } catch (error) {
                reject(error);
              }
            }, ms),
          );
        });
  const serveStale = () => {
    io.servedStale();
    return stale!.value as T;
  };
  try {
    return await Promise.race([
      work,
      stale === undefined ? after(undefined, serveStale) : after(settings.softTimeoutMs, serveStale),
      after(settings.hardTimeoutMs, () => {
        controller.abort(
          new FactoryTimeoutError(`the factory did not finish within ${settings.hardTimeoutMs} ms`),
        );
        if (stale !== undefined) return serveStale();
        throw new FactoryTimeoutError(
          `the factory did not finish within hardTimeout (${settings.hardTimeoutMs} ms) and no stale value was at hand`,
        );
      }),
    ]);
  } catch (error) {
    if (stale === undefined || error instanceof FactoryTimeoutError) throw error;
    // The source is failing: serve the stale value and leave the source alone for a while.
    io.retryAfter.set(io.slot, io.now() + settings.backoffMs);
    if (io.retryAfter.size > 10_000) io.retryAfter.delete(io.retryAfter.keys().next().value!);
    return serveStale();
  } finally {
    for (const timer of timers) clearTimeout(timer);
    // A factory still running after the caller was answered: its failure must not go unhandled.
    work.catch(() => io.retryAfter.set(io.slot, io.now() + settings.backoffMs));
  }
}
