import {
  type BusMessage,
  type CacheBus,
  CacheConfigError,
  parseBusMessage,
  StoreUnavailableError,
} from '@larder/core';
import { checkOptions, sanitizeCause } from '@larder/core/store-kit';
import type { Redis } from 'ioredis';
import { isClient, type RedisStoreLogger, redisSettings } from './options.js';

/** Where `redisBus` connects: a URL (it creates both connections) or a client (it publishes on it). */
export type RedisBusConnection =
  | {
      /** `redis://[user:password@]host[:port][/db]` or `rediss://`, as for `redisStore`. */
      url: string;
    }
  | {
      /**
       * An ioredis `Redis` client: messages are published on it and a duplicate of it
       * (`client.duplicate()`) subscribes. The bus never closes it.
       */
      client: Redis;
    };

/** Options for `redisBus`. */
export interface RedisBusOptions {
  /** The pub/sub channel; every cache that must hear the others uses the same one. @default 'larder:bus' */
  channel?: string;
  /** Where connection warnings go (never with credentials). @default console (prefixed `[larder]`) */
  logger?: RedisStoreLogger;
  /**
   * How often the listening connection sends PING, in ms. A subscriber only receives, so without
   * it a silent partition (a frozen server, dropped packets) would go unnoticed. @default 1000
   */
  pingInterval?: number;
  /** A PING unanswered for this long counts as a lost connection: the L1 is emptied and the bus reconnects. @default 1000 */
  pingTimeout?: number;
}

type Handlers = Parameters<CacheBus['subscribe']>[0];

const CONNECTION_SPEC = {
  url: 'string',
  client: {
    accepts: 'an ioredis Redis client',
    check: (value: unknown) => isClient(value) && !(value as { isCluster?: boolean }).isCluster,
  },
} as const;

/**
 * A cache bus over Redis pub/sub: `createCache({ store, l1: {}, bus: redisBus({ url }) })`.
 * It publishes on one connection and listens on a dedicated one; when the listening
 * connection comes back after a drop (messages may have been lost), the cache's L1 is
 * emptied. For a Redis Cluster, give the URL of any one node: pub/sub reaches every node.
 */
export function redisBus(connection: RedisBusConnection, options: RedisBusOptions = {}): CacheBus {
  return new RedisBus(connection, options);
}

class RedisBus implements CacheBus {
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #ownsPublisher: boolean;
  readonly #channel: string;
  readonly #endpoint: string;
  readonly #logger: RedisStoreLogger;
  #handlers: Handlers | undefined;
  /** The subscription was in place once: a later one follows a reconnect. */
  #subscribedOnce = false;
  #warned = false;
  #closed = false;
  readonly #pingTimeoutMs: number;
  readonly #pinger: NodeJS.Timeout;
  #pinging = false;

  constructor(connection: RedisBusConnection, options: RedisBusOptions) {
    if (typeof connection !== 'object' || connection === null) {
      throw new CacheConfigError(
        'redisBus needs a connection: redisBus({ url: "redis://host:6379" }) or redisBus({ client })',
      );
    }
    checkOptions('redisBus', connection, CONNECTION_SPEC);
    checkOptions('redisBus options', options, {
      channel: 'string',
      logger: {
        accepts: 'an object with a warn(fields, message) method',
        check: (v) => typeof (v as { warn?: unknown })?.warn === 'function',
      },
      pingInterval: 'number',
      pingTimeout: 'number',
    });
    const pingIntervalMs = checkPingMs('pingInterval', options.pingInterval ?? 1000);
    this.#pingTimeoutMs = checkPingMs('pingTimeout', options.pingTimeout ?? 1000);
    const url = (connection as { url?: string }).url;
    const client = (connection as { client?: Redis }).client;
    if ((url === undefined) === (client === undefined)) {
      throw new CacheConfigError('redisBus takes exactly one of url or client');
    }
    const channel = options.channel ?? 'larder:bus';
    if (channel === '') throw new CacheConfigError('redisBus channel must be a non-empty string');
    this.#channel = channel;
    if (client !== undefined) {
      const settings = redisSettings({ client });
      this.#endpoint = settings.endpoint;
      this.#logger = options.logger ?? settings.logger;
      this.#publisher = client;
      this.#ownsPublisher = false;
      // The duplicate keeps the client's settings; the bus subscribes again itself after a reconnect.
      this.#subscriber = client.duplicate({ autoResubscribe: false, lazyConnect: false });
    } else {
      const publisher = redisSettings({ url: url! });
      this.#endpoint = publisher.endpoint;
      this.#logger = options.logger ?? publisher.logger;
      this.#publisher = publisher.client as Redis;
      this.#ownsPublisher = true;
      this.#subscriber = redisSettings({ url: url!, redis: { autoResubscribe: false } }).client as Redis;
    }
    for (const connection of this.#ownsPublisher ? [this.#publisher, this.#subscriber] : [this.#subscriber]) {
      connection.on('error', (error: unknown) => this.#warn(error));
    }
    this.#subscriber.on('ready', () => {
      this.#warned = false;
      if (this.#handlers !== undefined) this.#listen().catch((error: unknown) => this.#warn(error));
    });
    this.#subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.#channel || this.#handlers === undefined) return;
      const message = parseBusMessage(text);
      if (message !== undefined) this.#handlers.onMessage(message);
    });
    this.#pinger = setInterval(() => this.#ping(), pingIntervalMs);
    this.#pinger.unref();
  }

  /** Logs and crash reports show the endpoint, never the clients (their options hold the password). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `RedisBus { endpoint: '${this.#endpoint}', channel: '${this.#channel}' }`;
  }

  toJSON(): Record<string, unknown> {
    return { name: 'redisBus', endpoint: this.#endpoint, channel: this.#channel };
  }

  toString(): string {
    return `RedisBus(${this.#endpoint})`;
  }

  async publish(message: BusMessage): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#publisher.publish(this.#channel, JSON.stringify(message));
    } catch (error) {
      throw new StoreUnavailableError(`the Redis bus at ${this.#endpoint} could not publish`, {
        store: 'redis',
        cause: sanitizeCause(error),
      });
    }
  }

  async subscribe(handlers: Handlers): Promise<void> {
    this.#handlers = handlers;
    if (this.#subscriber.status === 'ready') {
      await this.#listen();
      return;
    }
    // Not connected yet: the 'ready' listener subscribes as soon as the connection is up.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#subscriber.off('ready', ready);
        reject(
          new StoreUnavailableError(
            `the Redis bus at ${this.#endpoint} is not connected yet; it subscribes when it connects`,
            { store: 'redis' },
          ),
        );
      }, 5000);
      timer.unref();
      const ready = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#subscriber.once('ready', ready);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#handlers = undefined;
    clearInterval(this.#pinger);
    const quit = (client: Redis) =>
      client.status === 'ready' ? client.quit().then(noop, () => client.disconnect()) : client.disconnect();
    await Promise.all([quit(this.#subscriber), this.#ownsPublisher ? quit(this.#publisher) : undefined]);
  }

  /** Subscribes on the dedicated connection; after a reconnect, tells the cache messages may be lost. */
  async #listen(): Promise<void> {
    await this.#subscriber.subscribe(this.#channel);
    if (this.#subscribedOnce) this.#handlers?.onReconnect();
    this.#subscribedOnce = true;
  }

  /**
   * PINGs the listening connection. No PONG within `pingTimeout`: messages may be missed from now
   * on, so the L1 is emptied at once, and the connection is dropped so that it reconnects (and the
   * L1 is emptied again once it listens again).
   */
  #ping(): void {
    if (this.#pinging || this.#closed || !this.#subscribedOnce || this.#subscriber.status !== 'ready') return;
    this.#pinging = true;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.#pingTimeoutMs);
    });
    Promise.race([
      this.#subscriber.ping().then(
        () => 'pong' as const,
        () => 'late' as const,
      ),
      late,
    ])
      .then((outcome) => {
        if (outcome === 'pong' || this.#closed) return;
        this.#warn(new Error(`no reply to PING within ${this.#pingTimeoutMs} ms`));
        this.#handlers?.onReconnect();
        // (a connection already closing reconnects by itself)
        if (this.#subscriber.status === 'ready') this.#subscriber.disconnect(true);
      })
      .finally(() => {
        clearTimeout(timer);
        this.#pinging = false;
      });
  }

  /** One warning per outage, secret-free. */
  #warn(error: unknown): void {
    if (this.#warned || this.#closed) return;
    this.#warned = true;
    this.#logger.warn(
      { err: sanitizeCause(error), endpoint: this.#endpoint },
      'the Redis cache bus lost its connection; it reconnects and then empties the L1',
    );
  }
}

function noop(): void {}

function checkPingMs(name: string, value: number): number {
  if (!(Number.isFinite(value) && value >= 10 && value <= 60_000)) {
    throw new CacheConfigError(`redisBus ${name} ${value} must be a number of ms between 10 and 60000`);
  }
  return value;
}
