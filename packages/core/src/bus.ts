import { randomBytes } from 'node:crypto';

/**
 * An invalidation sent between processes that keep an L1: stored keys to drop, or a prefix
 * whose every key to drop (`''` drops everything).
 */
export interface BusMessage {
  /** The cache instance that sent it; it ignores its own messages. */
  origin: string;
  keys?: string[];
  prefix?: string;
}

/** What a cache needs from a bus (Redis pub/sub, Postgres LISTEN/NOTIFY, or in-process). */
export interface CacheBus {
  /** Sends a message to every subscriber, this one included. */
  publish(message: BusMessage): Promise<void>;
  /**
   * Starts delivering messages. `onReconnect` runs after the bus lost its connection and got
   * it back: messages may have been lost in between, so the cache empties its L1.
   */
  subscribe(handlers: { onMessage(message: BusMessage): void; onReconnect(): void }): Promise<void>;
  /** Stops listening and releases connections the bus owns. */
  close(): Promise<void>;
}

/** A unique id for one cache instance on the bus. */
export function busOrigin(): string {
  return randomBytes(8).toString('hex');
}

/** Parses a message off the wire; anything malformed is dropped (`undefined`). */
export function parseBusMessage(text: string): BusMessage | undefined {
  try {
    const message = JSON.parse(text) as BusMessage;
    if (typeof message !== 'object' || message === null || typeof message.origin !== 'string')
      return undefined;
    if (
      message.keys !== undefined &&
      !(Array.isArray(message.keys) && message.keys.every((k) => typeof k === 'string'))
    ) {
      return undefined;
    }
    if (message.prefix !== undefined && typeof message.prefix !== 'string') return undefined;
    return message;
  } catch {
    return undefined;
  }
}

/**
 * An in-process bus: every cache given a bus from the same hub hears the others. For tests
 * and for several caches in one process; processes need `redisBus` or `postgresBus`.
 */
export function memoryBusHub(): { bus(): CacheBus; disconnect(): void; reconnect(): void } {
  const subscribers = new Set<{ onMessage(message: BusMessage): void; onReconnect(): void }>();
  let connected = true;
  return {
    bus() {
      let mine: { onMessage(message: BusMessage): void; onReconnect(): void } | undefined;
      return {
        async publish(message) {
          if (!connected) return;
          // Deliver asynchronously, as a network bus would.
          const text = JSON.stringify(message);
          queueMicrotask(() => {
            for (const subscriber of subscribers) {
              const copy = parseBusMessage(text);
              if (copy !== undefined) subscriber.onMessage(copy);
            }
          });
        },
        async subscribe(handlers) {
          mine = handlers;
          subscribers.add(handlers);
        },
        async close() {
          if (mine !== undefined) subscribers.delete(mine);
        },
      };
    },
    disconnect() {
      connected = false;
    },
    reconnect() {
      connected = true;
      for (const subscriber of subscribers) subscriber.onReconnect();
    },
  };
}
