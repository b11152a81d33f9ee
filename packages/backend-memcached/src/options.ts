import { CacheConfigError } from '@larder/core';
import { checkOptions, type OptionSpec } from '@larder/core/store-kit';
import { createClient, isClient, type MemjsClient } from './connection.js';
import { NAME } from './errors.js';
import { MAX_KEY_BYTES } from './protocol.js';

/** Options for `MemcachedStore`. Give `servers`, `url` or `client` (or nothing, for 127.0.0.1:11211). */
export interface MemcachedStoreOptions {
  /**
   * Servers as `host:port` (`[::1]:11211` for IPv6), in an array or a comma-separated string;
   * keys are spread over them by a consistent-hash ring (ketama-style, 160 points per server),
   * so adding or removing one of N servers moves about 1/N of the keys. A server that is down
   * stays on the ring: its keys fail fast instead of moving to another server.
   * @default '127.0.0.1:11211'
   */
  servers?: string | readonly string[];
  /**
   * Alternative to `servers`: `memcached://[user:password@]host:port[,host:port...]`. Percent-encode
   * characters of the user name and password that URLs reserve.
   * @default none
   */
  url?: string;
  /** SASL user name (the password is never logged nor put into an error). @default none */
  username?: string;
  /** SASL password. @default none */
  password?: string;
  /** An existing memjs client to use instead; `close()` then leaves it open. @default none */
  client?: MemjsClient;
  /**
   * Deadline of every call, connect included, in ms. A call past it fails with
   * `StoreTimeoutError`, and the connection it used is dropped and rebuilt.
   * @default 1000
   */
  timeout?: number;
  /** The servers' item size limit (memcached's `-I`), in bytes. @default 1_048_576 (memcached's default, 1 MiB) */
  itemSizeMax?: number;
  /**
   * Largest value accepted; larger ones are refused before anything is sent. memcached's item
   * limit also covers the key and a ~63-byte item header, so the default leaves 512 bytes.
   * @default itemSizeMax - 512
   */
  maxValueBytes?: number;
  /** Most keys in one coalesced multi-get. @default 128 */
  maxBatch?: number;
  /** Clock for the expiry kept in the item flags, for tests. @default Date.now */
  now?: () => number;
}

/** The checked settings a store runs with. */
export interface MemcachedSettings {
  client: MemjsClient;
  owned: boolean;
  timeoutMs: number;
  maxValueBytes: number;
  maxBatch: number;
  now: () => number;
}

const DEFAULT_ITEM_SIZE_MAX = 1024 * 1024;
const ITEM_OVERHEAD_BYTES = 512;

const SPEC: OptionSpec = {
  servers: {
    accepts: 'a string or an array of host:port strings',
    check: (value) =>
      typeof value === 'string' ||
      (Array.isArray(value) && value.every((entry) => typeof entry === 'string')),
  },
  url: 'string',
  username: 'string',
  password: 'string',
  client: { accepts: 'a memjs Client', check: isClient },
  timeout: 'number',
  itemSizeMax: 'number',
  maxValueBytes: 'number',
  maxBatch: 'number',
  now: 'function',
};

interface Address {
  host: string;
  port: number;
}

/** Checks the options (or a bare memjs client) and builds the client when the store owns it. */
export function memcachedSettings(options: MemcachedStoreOptions | MemjsClient): MemcachedSettings {
  const opts: MemcachedStoreOptions = isClient(options) ? { client: options } : options;
  checkOptions('memcachedStore', opts, SPEC);
  const timeoutMs = positiveInteger('timeout', opts.timeout ?? 1000);
  const itemSizeMax = positiveInteger('itemSizeMax', opts.itemSizeMax ?? DEFAULT_ITEM_SIZE_MAX);
  if (itemSizeMax <= ITEM_OVERHEAD_BYTES * 2) {
    throw new CacheConfigError(
      `itemSizeMax ${itemSizeMax} is smaller than memcached allows (-I is at least 1k)`,
      { store: NAME },
    );
  }
  const maxValueBytes = positiveInteger(
    'maxValueBytes',
    opts.maxValueBytes ?? itemSizeMax - ITEM_OVERHEAD_BYTES,
  );
  if (maxValueBytes > itemSizeMax - MAX_KEY_BYTES - 64) {
    throw new CacheConfigError(
      `maxValueBytes ${maxValueBytes} does not fit an item of itemSizeMax ${itemSizeMax} bytes with a 250-byte key and memcached's item header; lower it or raise itemSizeMax (and the server's -I)`,
      { store: NAME },
    );
  }
  const maxBatch = positiveInteger('maxBatch', opts.maxBatch ?? 128);
  const now = opts.now ?? Date.now;
  if (opts.client !== undefined) {
    if (opts.servers !== undefined || opts.url !== undefined || opts.username !== undefined) {
      throw new CacheConfigError('pass either client or servers/url/username/password, not both', {
        store: NAME,
      });
    }
    if (opts.client.servers.length === 0) {
      throw new CacheConfigError('client must be a memjs Client with at least one server', { store: NAME });
    }
    return { client: opts.client, owned: false, timeoutMs, maxValueBytes, maxBatch, now };
  }
  const { addresses, username, password } = connectionOf(opts);
  const client = createClient(addresses, username, password, timeoutMs);
  return { client, owned: true, timeoutMs, maxValueBytes, maxBatch, now };
}

function connectionOf(options: MemcachedStoreOptions): {
  addresses: Address[];
  username: string | undefined;
  password: string | undefined;
} {
  if (options.url !== undefined && options.servers !== undefined) {
    throw new CacheConfigError('pass either url or servers, not both', { store: NAME });
  }
  let username = options.username;
  let password = options.password;
  let addresses: Address[];
  if (options.url !== undefined) {
    const parsed = parseUrl(options.url);
    addresses = parsed.addresses;
    if (parsed.username !== undefined) {
      if (username !== undefined) {
        throw new CacheConfigError('credentials are given both in url and in username/password; keep one', {
          store: NAME,
        });
      }
      username = parsed.username;
      password = parsed.password;
    }
  } else {
    const list = options.servers ?? '127.0.0.1:11211';
    const entries = typeof list === 'string' ? list.split(',') : [...list];
    addresses = entries.map((entry) => parseAddress(entry.trim()));
  }
  if (addresses.length === 0) throw new CacheConfigError('no memcached server was given', { store: NAME });
  const seen = new Set<string>();
  for (const { host, port } of addresses) {
    const name = `${host}:${port}`;
    if (seen.has(name)) {
      throw new CacheConfigError(`memcached server ${name} is listed twice; list each server once`, {
        store: NAME,
      });
    }
    seen.add(name);
  }
  if ((username === undefined) !== (password === undefined) || username === '') {
    throw new CacheConfigError('SASL needs both username and password', { store: NAME });
  }
  return { addresses, username, password };
}

const URL_SHAPE = 'memcached://[user:password@]host:port[,host:port...] (memjs has no TLS)';

/**
 * Parses `memcached://[user:password@]hosts`. The credentials run to the last `@`, so a
 * password holding `/`, `@` or `#` does not cut the URL short; a URL with credentials is never
 * echoed into an error, whole or in part.
 */
function parseUrl(url: string): { addresses: Address[]; username?: string; password?: string } {
  const at = url.lastIndexOf('@');
  const shown = at === -1 ? `url "${url}"` : 'url (with credentials, not shown)';
  const match = /^memcached?:\/\/(?:(.*)@)?([^@/?#\s]+)\/?$/is.exec(url);
  if (!match) throw new CacheConfigError(`${shown} is not ${URL_SHAPE}`, { store: NAME });
  const [, userinfo, hosts] = match;
  const addresses = hosts!.split(',').map((entry) => parseAddress(entry.trim()));
  if (userinfo === undefined || userinfo === '') return { addresses };
  const colon = userinfo.indexOf(':');
  const user = colon === -1 ? userinfo : userinfo.slice(0, colon);
  const pass = colon === -1 ? '' : userinfo.slice(colon + 1);
  if (user === '') return { addresses };
  try {
    return { addresses, username: decodeURIComponent(user), password: decodeURIComponent(pass) };
  } catch {
    throw new CacheConfigError(
      `${shown} has a user name or password that is not valid percent-encoding; encode it with encodeURIComponent or pass username/password`,
      { store: NAME },
    );
  }
}

function parseAddress(entry: string): Address {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:@\s[\]]+))(?::(\d{1,5}))?$/.exec(entry);
  const port = Number(match?.[3] ?? 11211);
  if (!match || !(port > 0 && port < 65536)) {
    throw new CacheConfigError(
      `memcached server "${entry.includes('@') ? '(with credentials, not shown)' : entry}" is not host:port; put credentials in username/password or url`,
      { store: NAME },
    );
  }
  return { host: match[1] ?? match[2]!, port };
}

function positiveInteger(name: string, value: number): number {
  if (!(Number.isSafeInteger(value) && value > 0)) {
    throw new CacheConfigError(`${name} must be a positive integer, got ${value}`, { store: NAME });
  }
  return value;
}
