import { CacheConfigError } from '@larder/core';

/** A parsed doctor / ttl-audit target. */
export interface Target {
  kind: 'redis' | 'memcached' | 'postgres' | 'sqlite';
  /** The URL (or file path) as given, secrets included: pass it to drivers only. */
  raw: string;
  /** The URL with its password replaced by `***`: the only form ever printed. */
  shown: string;
  /** The password, decoded, so output can be scrubbed of it; empty when none. */
  secret: string;
  /** Host and port for network targets. */
  host: string;
  port: number;
}

const DEFAULT_PORTS = { redis: 6379, memcached: 11211, postgres: 5432 } as const;

/** Parses `redis://`, `rediss://`, `memcached://`, `postgres://` (or `postgresql://`) URLs and SQLite files (`sqlite:path` or a path). */
export function parseTarget(input: string): Target {
  if (/^sqlite:/i.test(input)) {
    const path = input.replace(/^sqlite:(\/\/)?/i, '');
    return { kind: 'sqlite', raw: path, shown: path, secret: '', host: '', port: 0 };
  }
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) {
    if (/\.(db|sqlite3?)$/i.test(input) || input.startsWith('/') || input.startsWith('.')) {
      return { kind: 'sqlite', raw: input, shown: input, secret: '', host: '', port: 0 };
    }
    throw new CacheConfigError(
      `"${input}" is not a URL; use redis://host:port, rediss://, memcached://host:port, postgres://user@host/db or a SQLite file path`,
    );
  }
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new CacheConfigError(`could not parse the URL ${shownUrl(input)}; check its syntax`);
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  const kind =
    scheme === 'redis' || scheme === 'rediss'
      ? 'redis'
      : scheme === 'memcached'
        ? 'memcached'
        : scheme === 'postgres' || scheme === 'postgresql'
          ? 'postgres'
          : undefined;
  if (kind === undefined) {
    throw new CacheConfigError(
      `unknown scheme "${scheme}://"; larder knows redis://, rediss://, memcached://, postgres:// and SQLite files`,
    );
  }
  const secret = decodeURIComponent(url.password);
  const shown = shownUrl(input);
  return {
    kind,
    raw: input,
    shown,
    secret,
    host: url.hostname || '127.0.0.1',
    port: Number(url.port || DEFAULT_PORTS[kind]),
  };
}

/** The URL with its password replaced by `***` (also when only a password is given). */
function shownUrl(input: string): string {
  return input.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i, (_all, scheme: string, auth: string) => {
    const colon = auth.indexOf(':');
    return colon === -1 ? `${scheme}${auth}@` : `${scheme}${auth.slice(0, colon)}:***@`;
  });
}

/** Removes a secret from any text about to be printed: the last line of defence. */
export function scrub(text: string, secret: string): string {
  if (secret === '') return text;
  let out = text.split(secret).join('***');
  const encoded = encodeURIComponent(secret);
  if (encoded !== secret) out = out.split(encoded).join('***');
  return out;
}
