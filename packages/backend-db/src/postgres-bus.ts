import {
  type BusMessage,
  type CacheBus,
  CacheConfigError,
  type CacheLogger,
  consoleLogger,
  parseBusMessage,
  StoreUnavailableError,
} from '@larder/core';
import { checkOptions, redactUrl, sanitizeCause } from '@larder/core/store-kit';
import pg from 'pg';

/** Where `postgresBus` connects: a URL, or an existing pool whose settings it reuses. */
export type PostgresBusConnection =
  | {
      /** `postgres://user:pass@host:5432/db`. The bus creates a small pool to notify and one client to listen. */
      connectionString: string;
    }
  | {
      /**
       * An existing `pg.Pool` (e.g. `postgresStore(...).client`): notifications go through it,
       * and the bus opens one dedicated client with the pool's settings to listen. The bus
       * never ends the pool.
       */
      pool: pg.Pool;
    };

/** Options for `postgresBus`. */
export interface PostgresBusOptions {
  /**
   * The LISTEN/NOTIFY channel: letters, digits and underscores, starting with a letter or
   * underscore, at most 63 characters. Every cache that must hear the others uses the same one.
   * @default 'larder_bus'
   */
  channel?: string;
  /** Where connection warnings go (never with credentials). @default console (prefixed `[larder]`) */
  logger?: Pick<CacheLogger, 'warn'>;
}

type Handlers = Parameters<CacheBus['subscribe']>[0];

/** Postgres refuses NOTIFY payloads of 8000 bytes or more. */
const MAX_PAYLOAD_BYTES = 7900;
const CHANNEL = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const CONNECT_TIMEOUT_MS = 2000;

const CONNECTION_SPEC = {
  connectionString: 'string',
  pool: {
    accepts: 'a pg.Pool',
    check: (value: unknown) => typeof (value as { query?: unknown })?.query === 'function',
  },
} as const;

/**
 * A cache bus over Postgres LISTEN/NOTIFY: `createCache({ store, l1: {}, bus:
 * postgresBus({ connectionString }) })`. It listens on one dedicated connection and notifies
 * through a pool; when the listening connection drops it reconnects with backoff, and once
 * it listens again the cache's L1 is emptied (notifications sent meanwhile are lost).
 */
export function postgresBus(connection: PostgresBusConnection, options: PostgresBusOptions = {}): CacheBus {
  return new PostgresBus(connection, options);
}

class PostgresBus implements CacheBus {
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #clientConfig: pg.ClientConfig;
  readonly #channel: string;
  readonly #endpoint: string;
  readonly #logger: Pick<CacheLogger, 'warn'>;
  #listener: pg.Client | undefined;
  #handlers: Handlers | undefined;
  #listenedOnce = false;
  #attempt = 0;
  #retry: NodeJS.Timeout | undefined;
  #warned = false;
  #closed = false;

  constructor(connection: PostgresBusConnection, options: PostgresBusOptions) {
    if (typeof connection !== 'object' || connection === null) {
      throw new CacheConfigError(
        'postgresBus needs a connection: postgresBus({ connectionString: "postgres://user:pass@host:5432/db" }) or postgresBus({ pool })',
      );
    }
    checkOptions('postgresBus', connection, CONNECTION_SPEC);
    checkOptions('postgresBus options', options, {
      channel: 'string',
      logger: {
        accepts: 'an object with a warn(fields, message) method',
        check: (v) => typeof (v as { warn?: unknown })?.warn === 'function',
      },
    });
    const connectionString = (connection as { connectionString?: string }).connectionString;
    const pool = (connection as { pool?: pg.Pool }).pool;
    if ((connectionString === undefined) === (pool === undefined)) {
      throw new CacheConfigError('postgresBus takes exactly one of connectionString or pool');
    }
    if (connectionString === '') {
      throw new CacheConfigError(
        'connectionString must be a non-empty string such as postgres://user:pass@host:5432/db',
      );
    }
    const channel = options.channel ?? 'larder_bus';
    if (!CHANNEL.test(channel)) {
      throw new CacheConfigError(
        `postgresBus channel ${JSON.stringify(channel)} must be letters, digits and underscores, start with a letter or underscore, and be at most 63 characters`,
      );
    }
    this.#channel = channel;
    this.#logger = options.logger ?? consoleLogger;
    const timeouts = {
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: CONNECT_TIMEOUT_MS,
      keepAlive: true,
      application_name: 'larder-bus',
    };
    if (pool !== undefined) {
      this.#pool = pool;
      this.#ownsPool = false;
      const {
        max: _max,
        idleTimeoutMillis: _idle,
        ...settings
      } = (pool as { options?: pg.PoolConfig }).options ?? {};
      this.#clientConfig = { ...timeouts, ...settings };
    } else {
      this.#clientConfig = { ...timeouts, connectionString };
      this.#pool = new pg.Pool({ ...timeouts, max: 2, allowExitOnIdle: true, connectionString });
      this.#ownsPool = true;
      this.#pool.on('error', (error) => this.#warn(error));
    }
    this.#endpoint = describe(this.#clientConfig);
  }

  /** Logs and crash reports show the endpoint, never the connection settings (they hold the password). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `PostgresBus { endpoint: '${this.#endpoint}', channel: '${this.#channel}' }`;
  }

  toJSON(): Record<string, unknown> {
    return { name: 'postgresBus', endpoint: this.#endpoint, channel: this.#channel };
  }

  toString(): string {
    return `PostgresBus(${this.#endpoint})`;
  }

  async publish(message: BusMessage): Promise<void> {
    if (this.#closed) return;
    try {
      for (const payload of payloads(message)) {
        await this.#pool.query('SELECT pg_notify($1, $2)', [this.#channel, payload]);
      }
    } catch (error) {
      throw new StoreUnavailableError(`the Postgres bus at ${this.#endpoint} could not notify`, {
        store: 'postgres',
        cause: sanitizeCause(error),
      });
    }
  }

  async subscribe(handlers: Handlers): Promise<void> {
    this.#handlers = handlers;
    try {
      await this.#listen();
    } catch (error) {
      this.#reconnectLater();
      throw new StoreUnavailableError(
        `the Postgres bus at ${this.#endpoint} could not listen yet; it retries in the background`,
        { store: 'postgres', cause: sanitizeCause(error) },
      );
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#handlers = undefined;
    clearTimeout(this.#retry);
    const listener = this.#listener;
    this.#listener = undefined;
    await Promise.all([
      listener?.end().catch(() => {}),
      this.#ownsPool ? this.#pool.end().catch(() => {}) : undefined,
    ]);
  }

  /** Opens the dedicated client and LISTENs; after a reconnect, tells the cache messages may be lost. */
  async #listen(): Promise<void> {
    const client = new pg.Client(this.#clientConfig);
    client.on('error', (error) => this.#warn(error));
    client.on('notification', (note) => {
      if (note.channel !== this.#channel || note.payload === undefined) return;
      const message = parseBusMessage(note.payload);
      if (message !== undefined) this.#handlers?.onMessage(message);
    });
    client.on('end', () => {
      if (this.#listener === client) {
        this.#listener = undefined;
        this.#reconnectLater();
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.#channel}"`);
    } catch (error) {
      client.end().catch(() => {});
      throw error;
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      return;
    }
    this.#listener = client;
    this.#attempt = 0;
    this.#warned = false;
    if (this.#listenedOnce) this.#handlers?.onReconnect();
    this.#listenedOnce = true;
  }

  /** Retries listening with a backoff of 50 ms doubling to 2 s. */
  #reconnectLater(): void {
    if (this.#closed || this.#retry !== undefined) return;
    const delay = Math.min(50 * 2 ** this.#attempt, 2000);
    this.#attempt++;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (this.#closed) return;
      this.#listen().catch((error: unknown) => {
        this.#warn(error);
        this.#reconnectLater();
      });
    }, delay);
    // Retrying must not keep an otherwise finished process alive.
    this.#retry.unref();
  }

  /** One warning per outage, secret-free. */
  #warn(error: unknown): void {
    if (this.#warned || this.#closed) return;
    this.#warned = true;
    this.#logger.warn(
      { err: sanitizeCause(error), endpoint: this.#endpoint },
      'the Postgres cache bus lost its connection; it reconnects and then empties the L1',
    );
  }
}

/** The message as NOTIFY payloads under Postgres' size limit: a long key list is split. */
function payloads(message: BusMessage): string[] {
  const text = JSON.stringify(message);
  if (Buffer.byteLength(text) <= MAX_PAYLOAD_BYTES) return [text];
  const keys = message.keys ?? [];
  if (keys.length <= 1) {
    // One key too long to name: drop everything under the cache's prefix is not known here,
    // so drop the whole L1 (rare: keys are short).
    return [JSON.stringify({ origin: message.origin, prefix: '' })];
  }
  const half = Math.ceil(keys.length / 2);
  const { keys: _all, ...rest } = message;
  return [
    ...payloads({ ...rest, keys: keys.slice(0, half) }),
    ...payloads({ origin: message.origin, keys: keys.slice(half) }),
  ];
}

/** `postgres://host:port/db` without credentials, for messages. */
function describe(config: pg.ClientConfig): string {
  if (config.connectionString !== undefined) {
    try {
      const url = new URL(config.connectionString);
      return `${url.protocol}//${url.host}${url.pathname}`;
    } catch {
      return redactUrl(config.connectionString);
    }
  }
  return `postgres://${config.host ?? 'localhost'}:${config.port ?? 5432}/${config.database ?? ''}`;
}
