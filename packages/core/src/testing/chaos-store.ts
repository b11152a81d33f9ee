import type { Store, StoreCapabilities, StoreEntry, StoreInfo } from '../store.js';

/** How the chaos store treats the next calls. */
export type ChaosMode = 'pass' | 'throw' | 'hang' | 'delay';

export interface ChaosStoreOptions {
  /** Replace some of the inner store's capabilities (e.g. `clearScope: 'none'`). */
  capabilities?: Partial<StoreCapabilities>;
}

/**
 * Wraps a real store and injects failures: throws, delays and hangs that never settle
 * (until `release()`), so the cache's error policy, deadline and circuit breaker can be
 * tested without killing a server. `calls` counts the calls that reached the wrapper.
 */
export class ChaosStore implements Store {
  readonly name: string;
  readonly capabilities: StoreCapabilities;
  readonly inner: Store;
  mode: ChaosMode = 'pass';
  delayMs = 0;
  /** The error `throw` mode rejects with. */
  error: Error = new Error('connect ECONNREFUSED 127.0.0.1:6379 (injected)');
  calls = 0;
  /** Writes (set, setMany, add, incr) that reached the inner store. */
  writes = 0;
  #failNext = 0;
  readonly #hung = new Set<() => void>();

  constructor(inner: Store, options: ChaosStoreOptions = {}) {
    this.inner = inner;
    this.name = inner.name;
    // Injected hangs and delays are asynchronous, whatever the inner store is.
    this.capabilities = { ...inner.capabilities, inProcess: false, ...options.capabilities };
  }

  /** Makes the next `count` calls throw, whatever the mode. */
  failNext(count: number): void {
    this.#failNext = count;
  }

  /** Settles every hung call (they then reach the inner store). */
  release(): void {
    for (const wake of this.#hung) wake();
    this.#hung.clear();
  }

  get hungCalls(): number {
    return this.#hung.size;
  }

  async #chaos<T>(call: () => Promise<T>, isWrite = false): Promise<T> {
    this.calls++;
    if (this.#failNext > 0) {
      this.#failNext--;
      throw this.error;
    }
    switch (this.mode) {
      case 'throw':
        throw this.error;
      case 'hang':
        await new Promise<void>((resolve) => this.#hung.add(resolve));
        break;
      case 'delay':
        await new Promise((resolve) => setTimeout(resolve, this.delayMs));
        break;
      case 'pass':
        break;
    }
    if (isWrite) this.writes++;
    return call();
  }

  get(key: string) {
    return this.#chaos(() => this.inner.get(key));
  }
  getMany(keys: readonly string[]) {
    return this.#chaos(() => this.inner.getMany(keys));
  }
  set(key: string, value: Uint8Array, ttlMs: number) {
    return this.#chaos(() => this.inner.set(key, value, ttlMs), true);
  }
  setMany(entries: readonly StoreEntry[]) {
    return this.#chaos(() => this.inner.setMany(entries), true);
  }
  add(key: string, value: Uint8Array, ttlMs: number) {
    return this.#chaos(() => this.inner.add(key, value, ttlMs), true);
  }
  delete(key: string) {
    return this.#chaos(() => this.inner.delete(key));
  }
  deleteMany(keys: readonly string[]) {
    return this.#chaos(() => this.inner.deleteMany(keys));
  }
  has(key: string) {
    return this.#chaos(() => this.inner.has(key));
  }
  incr(key: string, delta: number, ttlMs: number) {
    return this.#chaos(() => this.inner.incr(key, delta, ttlMs), true);
  }
  touch(key: string, ttlMs: number) {
    return this.#chaos(() => this.inner.touch(key, ttlMs));
  }
  ttl(key: string) {
    return this.#chaos(() => this.inner.ttl(key));
  }
  clear(prefix: string) {
    return this.#chaos(() => this.inner.clear(prefix));
  }
  info(): Promise<StoreInfo> {
    return this.#chaos(() => this.inner.info());
  }
  async *keys(prefix: string): AsyncIterable<string> {
    const inner = this.inner;
    if (inner.keys === undefined) throw new Error(`the ${inner.name} store cannot list keys`);
    yield* await this.#chaos(async () => inner.keys!(prefix));
  }
  /** Closes the inner store; in `hang` mode the close itself hangs until `release()`. */
  close() {
    return this.#chaos(() => {
      this.release();
      return this.inner.close();
    });
  }
}
