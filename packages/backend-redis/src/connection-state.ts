import {
  CacheClosedError,
  type CacheError,
  StoreAuthError,
  StorePermissionError,
  StoreTimeoutError,
  StoreUnavailableError,
} from '@larder/core';
import type { Cluster, Redis } from 'ioredis';
import { toStoreError } from './errors.js';

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
}

const noop = () => {};

/**
 * Follows an ioredis client's connection and decides when a command may go out. While the
 * first connection is being made, commands wait for it (up to `timeout`); after a failure they
 * fail at once until the client is ready again, so an outage costs the app no waiting.
 * Whatever a command throws comes out as a typed, secret-free error.
 */
export class ConnectionState {
  readonly #client: Redis | Cluster;
  readonly #endpoint: string;
  readonly #timeoutMs: number;
  readonly #queuesOffline: boolean;
  readonly #listeners: [string, (arg?: unknown) => void][] = [];
  /** Called on every `ready`; `first` on the first one. */
  readonly #onConnected: (first: boolean) => void;
  #waiters = new Set<Waiter>();
  /** A connection attempt failed, or the connection was lost, since the last `ready`. */
  #failing = false;
  #lastError: CacheError | undefined;
  #readyOnce = false;
  #closed = false;

  constructor(
    client: Redis | Cluster,
    endpoint: string,
    timeoutMs: number,
    queuesOffline: boolean,
    onConnected: (first: boolean) => void,
  ) {
    this.#client = client;
    this.#endpoint = endpoint;
    this.#timeoutMs = timeoutMs;
    this.#queuesOffline = queuesOffline;
    this.#onConnected = onConnected;
    this.#listen('error', (error: unknown) => this.#onError(error));
    if (client.isCluster) this.#listen('node error', (error: unknown) => this.#onNodeError(error));
    this.#listen('ready', () => this.#onReady());
    this.#listen('close', () => this.#onLost());
    this.#listen('end', () => this.#onLost());
    if (client.status === 'ready') this.#onReady();
  }

  /** The last connection or command failure the client reported (secret-free). */
  get lastError(): CacheError | undefined {
    return this.#lastError;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Open, and the client takes commands now: a call may go straight to it. */
  get ready(): boolean {
    return !this.#closed && this.#client.status === 'ready';
  }

  /** Runs a command once the client can take it, and maps whatever it throws. */
  run<T>(operation: string, key: string | undefined, command: () => Promise<T>): Promise<T> {
    let pending: Promise<T>;
    if (this.#closed) {
      pending = Promise.reject(new CacheClosedError('the redis store is closed', { key, store: 'redis' }));
    } else if (this.#client.status === 'ready') {
      try {
        pending = command();
      } catch (error) {
        pending = Promise.reject(error);
      }
    } else {
      pending = this.#whenReady(operation, key).then(command);
    }
    return pending.catch((error: unknown) => {
      throw this.toError(error, operation, key);
    });
  }

  /** The typed error for what a command threw. */
  toError(error: unknown, operation: string, key?: string): CacheError {
    return toStoreError(error, { endpoint: this.#endpoint, timeoutMs: this.#timeoutMs, operation, key });
  }

  /** Fails every waiting command; with `detach`, takes the store's listeners off the client (a client the store does not own). */
  close(detach: boolean): void {
    this.#closed = true;
    this.#rejectWaiters(new CacheClosedError('the redis store is closed', { store: 'redis' }));
    // For a client the store owns, the 'error' listener stays so a late socket error cannot crash the app.
    if (detach) for (const [event, listener] of this.#listeners) this.#client.off(event, listener);
  }

  #whenReady(operation: string, key: string | undefined): Promise<void> {
    const status = this.#client.status;
    if (status === 'ready' || this.#queuesOffline) return Promise.resolve();
    if (status === 'end') {
      return Promise.reject(
        new StoreUnavailableError(`the redis client for ${this.#endpoint} was closed; create a new store`, {
          key,
          store: 'redis',
        }),
      );
    }
    if (this.#failing) return Promise.reject(this.#unavailable(key));
    if (status === 'wait') this.#client.connect().catch(noop);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(
            new StoreTimeoutError(
              `redis at ${this.#endpoint} was not ready within ${this.#timeoutMs} ms for ${operation}; check the server or raise the store's timeout`,
              { key, store: 'redis' },
            ),
          );
        }, this.#timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  #unavailable(key: string | undefined): CacheError {
    const last = this.#lastError;
    // The server told us why it refuses us: say so on every call, not "unreachable".
    if (last instanceof StoreAuthError || last instanceof StorePermissionError) return last;
    const reason = last?.cause instanceof Error ? last.cause.message : 'connection lost';
    return new StoreUnavailableError(`redis at ${this.#endpoint} is unreachable (${reason}); reconnecting`, {
      key,
      store: 'redis',
      cause: last?.cause ?? last,
    });
  }

  #listen(event: string, listener: (arg?: unknown) => void): void {
    this.#listeners.push([event, listener]);
    this.#client.on(event, listener);
  }

  #onError(error: unknown): void {
    this.#lastError = this.toError(error, 'connect');
    if (this.#client.status !== 'ready') {
      this.#failing = true;
      this.#rejectWaiters(this.#unavailable(undefined));
    }
  }

  #onNodeError(error: unknown): void {
    this.#lastError = this.toError(error, 'connect');
  }

  #onLost(): void {
    if (this.#closed) return;
    this.#failing = true;
    this.#rejectWaiters(this.#unavailable(undefined));
  }

  #onReady(): void {
    this.#failing = false;
    const waiters = this.#waiters;
    this.#waiters = new Set();
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    const first = !this.#readyOnce;
    this.#readyOnce = true;
    this.#onConnected(first);
  }

  #rejectWaiters(error: unknown): void {
    const waiters = this.#waiters;
    this.#waiters = new Set();
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }
}
