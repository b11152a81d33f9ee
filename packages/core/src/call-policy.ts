import type { Shared } from './cache-options.js';
import {
  CacheClosedError,
  type CacheError,
  CircuitOpenError,
  isStoreFault,
  StoreError,
  StoreUnavailableError,
  ValueTooLargeError,
} from './errors.js';
import type { CacheOperation } from './stats.js';

/** What a store call resolves to when its failure was swallowed under `ignoreErrors`. */
export const FAILED: unique symbol = Symbol('failed');
export type Failed = typeof FAILED;

/**
 * Runs one store call under the deadline and the circuit breaker, and applies the error
 * policy in this one place: a backend fault is counted, emitted, logged and then either
 * swallowed (FAILED) or thrown; a programmer error is always thrown.
 */
export function runCall<T>(
  s: Shared,
  operation: CacheOperation,
  key: string | undefined,
  call: () => Promise<T>,
): Promise<T | Failed> {
  if (s.closed) throw new CacheClosedError(undefined, { key, store: s.store.name });
  if (s.breaker !== undefined && !s.breaker.allow()) return Promise.resolve(refused(s, operation, key));
  const started = performance.now();
  let pending: Promise<T>;
  s.stats.inFlight++;
  try {
    pending = call();
  } catch (error) {
    pending = Promise.reject(error);
  }
  // An in-process store has finished its work when it returns: no deadline can cut it short.
  if (!s.inProcess) pending = s.deadlines.run(pending, operation, key, started);
  return pending.then(
    (result) => {
      s.stats.inFlight--;
      answered(s);
      s.stats.recordLatency(operation, performance.now() - started);
      return result;
    },
    (error: unknown) => {
      s.stats.inFlight--;
      return failed(s, operation, key, error);
    },
  );
}

/**
 * `runCall` for a synchronous store call (`Store.sync`), in the same order: the closed
 * check, the breaker, the call, the latency, the error policy. Returns or throws instead
 * of settling a promise.
 */
export function runSync<A, B, T>(
  s: Shared,
  operation: CacheOperation,
  key: string | undefined,
  call: (a: A, b: B) => T,
  a: A,
  b: B,
): T | Failed {
  if (s.closed) throw new CacheClosedError(undefined, { key, store: s.store.name });
  const breaker = s.breaker;
  if (breaker !== undefined && !breaker.allow()) return refused(s, operation, key);
  const histogram = s.stats.syncHistogram(operation);
  const started = histogram.timeNext ? performance.now() : -1;
  let result: T;
  try {
    result = call(a, b);
  } catch (error) {
    return failed(s, operation, key, error);
  }
  if (breaker !== undefined) answered(s);
  if (started === -1) histogram.repeat();
  else histogram.record(performance.now() - started);
  return result;
}

function refused(s: Shared, operation: CacheOperation, key: string | undefined): Failed {
  return fault(
    s,
    operation,
    key,
    new CircuitOpenError(
      `the ${s.store.name} store failed repeatedly; calls skip it until the circuit breaker's cooldown ends`,
      { key, store: s.store.name },
    ),
  );
}

/** Tells the breaker the store answered (which closes a circuit whose probe this was). */
function answered(s: Shared): void {
  if (s.breaker?.success()) {
    s.log.warn('recovered', { store: s.store.name }, `the ${s.store.name} store answers again`);
  }
}

function failed(s: Shared, operation: CacheOperation, key: string | undefined, error: unknown): Failed {
  if (!isStoreFault(error)) {
    // A programmer error says nothing about the store's health; every outcome reaches the
    // breaker, or a probe that ends this way would leave the circuit open for good.
    answered(s);
    throw error;
  }
  const wrapped =
    error instanceof StoreError
      ? error
      : new StoreUnavailableError(
          `${s.store.name} ${operation} failed: ${(error as Error)?.message ?? error}`,
          {
            key,
            store: s.store.name,
            cause: error,
          },
        );
  // A value the store refused for its size: the store answered, and is healthy. One server of
  // several failing: the store answered for the others, which must keep serving their keys.
  if (wrapped instanceof ValueTooLargeError || wrapped.server !== undefined) answered(s);
  else s.breaker?.failure();
  return fault(s, operation, key, wrapped);
}

/** Counts, emits and logs a backend fault; then swallows it (FAILED) or throws it. */
export function fault(
  s: Shared,
  operation: CacheOperation,
  key: string | undefined,
  error: StoreError,
): Failed {
  report(s, operation, key, error);
  if (!s.ignoreErrors) throw error;
  return FAILED;
}

function report(s: Shared, operation: CacheOperation, key: string | undefined, error: CacheError): void {
  s.stats.recordError(error.code);
  if (s.emitter.listeners.error.length > 0) s.emitter.emit('error', { error, operation, key });
  s.log.warn(
    'failure',
    { err: error, store: s.store.name, operation },
    `${s.store.name} ${operation} failed (${error.code})${s.ignoreErrors ? '; served as a miss' : ''}`,
  );
}
