import type { CacheError } from './errors.js';
import type { CacheOperation } from './stats.js';

/** Events a cache emits. `key` is the key as the caller wrote it. */
export interface CacheEvents {
  hit: { key: string };
  miss: { key: string };
  set: { key: string };
  delete: { key: string };
  /** A store failure, emitted whether or not `ignoreErrors` swallowed it. */
  error: { error: CacheError; operation: CacheOperation; key: string | undefined };
}

export type CacheEventName = keyof CacheEvents;
export type CacheListener<E extends CacheEventName> = (event: CacheEvents[E]) => void;

/** A tiny typed emitter; emitting to no listener costs one array length check. */
export class CacheEmitter {
  readonly listeners: { [E in CacheEventName]: CacheListener<E>[] } = {
    hit: [],
    miss: [],
    set: [],
    delete: [],
    error: [],
  };

  on<E extends CacheEventName>(event: E, listener: CacheListener<E>): void {
    this.listeners[event].push(listener);
  }

  off<E extends CacheEventName>(event: E, listener: CacheListener<E>): void {
    const list = this.listeners[event];
    const index = list.indexOf(listener);
    if (index !== -1) list.splice(index, 1);
  }

  emit<E extends CacheEventName>(event: E, payload: CacheEvents[E]): void {
    for (const listener of this.listeners[event]) {
      try {
        listener(payload);
      } catch {
        // A listener's bug must not turn a cache hit into an error.
      }
    }
  }
}
