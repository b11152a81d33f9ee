import { CacheAuthError } from '@larder/core';
import type { Redis } from 'ioredis';
import {
  type DoctorCheck,
  type DoctorReport,
  fail,
  hitRateCheck,
  LIMITS,
  memoryCheck,
  pass,
  quantiles,
  size,
  unknown,
  warn,
} from './check.js';
import { configGet, connectRedis, readInfo } from './redis-client.js';
import type { Target } from './target.js';

/** Options for the Redis checks. */
export interface RedisDoctorOptions {
  /** Keys sampled with SCAN + PTTL for the expiry check. @default 1000 */
  sample?: number;
  /** PINGs timed for the latency check. @default 50 */
  pings?: number;
  /** Accept an unverified TLS certificate. @default false */
  insecure?: boolean;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|-::1|localhost)$/;

/** Reads a live Redis and judges it against the deployment checklist. */
export async function doctorRedis(target: Target, options: RedisDoctorOptions = {}): Promise<DoctorReport> {
  const client = await connectRedis(target, { insecure: options.insecure });
  try {
    const info = await readInfo(client);
    const num = (field: string) => (info.has(field) ? Number(info.get(field)) : undefined);
    const version = info.get('redis_version');
    const maxmemory = await configGet(client, 'maxmemory');
    const policy = await configGet(client, 'maxmemory-policy');
    const checks: DoctorCheck[] = [
      await authCheck(target, options),
      await aclCheck(client),
      await exposureCheck(client, target),
      tlsCheck(target),
      maxmemoryCheck(maxmemory),
      policyCheck(policy),
      usedMemoryCheck(num('used_memory'), 'value' in maxmemory ? Number(maxmemory.value) : undefined),
      await expiryCheck(client, options.sample ?? 1000, 'value' in policy ? policy.value : undefined),
      hitRateCheck(num('keyspace_hits'), num('keyspace_misses')),
      await clientsCheck(client, num('connected_clients'), num('rejected_connections')),
      evictionsCheck(num('evicted_keys')),
      await latencyCheck(client, options.pings ?? 50),
      versionCheck(version),
    ];
    return { target: target.shown, kind: 'redis', version, checks };
  } finally {
    client.disconnect();
  }
}

async function authCheck(target: Target, options: RedisDoctorOptions): Promise<DoctorCheck> {
  let anonymous: Redis | undefined;
  try {
    anonymous = await connectRedis(target, { anonymous: true, insecure: options.insecure });
    await anonymous.ping();
    return fail(
      'auth',
      'a client without a password ran PING',
      'set requirepass (or give the ACL default user a strong password) and put it in the app’s URL',
    );
  } catch (error) {
    const message = (error as Error).message;
    if (error instanceof CacheAuthError || /NOAUTH|WRONGPASS|NOPERM/i.test(message)) {
      return pass('auth', 'a client without a password was refused');
    }
    return unknown('auth', `could not test an unauthenticated connection: ${message.split('\n')[0]}`);
  } finally {
    anonymous?.disconnect();
  }
}

async function aclCheck(client: Redis): Promise<DoctorCheck> {
  try {
    const reply = (await client.call('ACL', 'GETUSER', 'default')) as unknown[];
    const flagsAt = reply.indexOf('flags');
    const flags = (flagsAt >= 0 ? (reply[flagsAt + 1] as string[]) : []).map(String);
    const read = `default user: ${flags.join(' ') || 'no flags'}`;
    if (flags.includes('off')) return pass('acl-default-user', read);
    if (flags.includes('nopass')) {
      return fail(
        'acl-default-user',
        read,
        'ACL SETUSER default >strong-password (or off) so no one connects without a password',
      );
    }
    return pass('acl-default-user', read);
  } catch (error) {
    return unknown(
      'acl-default-user',
      `the server refused ACL GETUSER: ${(error as Error).message.split('\n')[0]}`,
    );
  }
}

async function exposureCheck(client: Redis, target: Target): Promise<DoctorCheck> {
  const bind = await configGet(client, 'bind');
  const protectedMode = await configGet(client, 'protected-mode');
  if (!('value' in bind) || !('value' in protectedMode)) {
    const reason = 'refused' in bind ? bind.refused : (protectedMode as { refused: string }).refused;
    return unknown('network-exposure', reason);
  }
  const addresses = bind.value.split(/\s+/).filter(Boolean);
  const read = `bind ${addresses.join(' ') || '(all interfaces)'}, protected-mode ${protectedMode.value}`;
  const loopbackOnly = addresses.length > 0 && addresses.every((a) => LOOPBACK.test(a));
  if (loopbackOnly) return pass('network-exposure', read);
  if (protectedMode.value === 'no') {
    return warn(
      'network-exposure',
      read,
      'bind Redis to the private interface it serves and keep protected-mode yes',
    );
  }
  return target.secret === ''
    ? warn('network-exposure', read, 'listening beyond loopback: bind it to the private interface it serves')
    : pass('network-exposure', read);
}

function tlsCheck(target: Target): DoctorCheck {
  if (target.raw.toLowerCase().startsWith('rediss://')) return pass('tls', 'connected over TLS (rediss://)');
  if (LOOPBACK.test(target.host)) return pass('tls', 'plain TCP over loopback');
  return warn(
    'tls',
    `plain TCP to ${target.host}`,
    'traffic and the password cross the network in clear; enable TLS and use rediss://',
  );
}

function maxmemoryCheck(maxmemory: { value: string } | { refused: string }): DoctorCheck {
  if ('refused' in maxmemory) return unknown('maxmemory', maxmemory.refused);
  return Number(maxmemory.value) === 0
    ? fail(
        'maxmemory',
        'maxmemory 0 (no limit)',
        'set maxmemory (e.g. 75 % of the RAM left for Redis) so the cache evicts instead of being OOM-killed',
      )
    : pass('maxmemory', `maxmemory ${size(Number(maxmemory.value))}`);
}

function policyCheck(policy: { value: string } | { refused: string }): DoctorCheck {
  if ('refused' in policy) return unknown('eviction-policy', policy.refused);
  const read = `maxmemory-policy ${policy.value}`;
  if (/^allkeys-(lru|lfu)$/.test(policy.value)) return pass('eviction-policy', read);
  if (policy.value === 'noeviction') {
    return fail(
      'eviction-policy',
      read,
      'writes fail once memory is full; CONFIG SET maxmemory-policy allkeys-lru for a cache',
    );
  }
  return warn(
    'eviction-policy',
    read,
    'use allkeys-lru (or allkeys-lfu): it evicts any key, with or without a TTL',
  );
}

function usedMemoryCheck(used: number | undefined, limit: number | undefined): DoctorCheck {
  if (used === undefined) return unknown('memory', 'INFO has no used_memory');
  if (limit === undefined) return unknown('memory', `used_memory ${used}; the limit could not be read`);
  if (limit === 0) return unknown('memory', `used_memory ${used} bytes; no maxmemory to compare with`);
  return memoryCheck(used, limit, 'raise maxmemory or store less');
}

/** Samples keys with SCAN (never KEYS) and asks PTTL of each: -1 means no expiry. */
async function expiryCheck(client: Redis, sample: number, policy: string | undefined): Promise<DoctorCheck> {
  try {
    const keys = await scanSample(client, '*', sample);
    if (keys.length === 0) return pass('keys-without-expiry', 'no keys to sample');
    const ttls = await pttls(client, keys);
    const persistent = ttls.filter((ttl) => ttl === -1).length;
    const read = `${persistent} of ${keys.length} sampled keys have no expiry`;
    if (persistent === 0) return pass('keys-without-expiry', read);
    // Under noeviction or a volatile policy such keys can never be evicted: they fill memory for good.
    const neverEvicted = policy === undefined || policy === 'noeviction' || policy.startsWith('volatile-');
    return (neverEvicted ? fail : warn)(
      'keys-without-expiry',
      read,
      'give every write a TTL (Larder’s defaultTtl does); run larder ttl-audit to find the prefixes',
    );
  } catch (error) {
    return unknown(
      'keys-without-expiry',
      `the server refused SCAN/PTTL: ${(error as Error).message.split('\n')[0]}`,
    );
  }
}

/** Up to `limit` keys matching `pattern`, paging with SCAN. */
export async function scanSample(client: Redis, pattern: string, limit: number): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 200);
    cursor = next;
    for (const key of batch) if (keys.length < limit) keys.push(key);
  } while (cursor !== '0' && keys.length < limit);
  return keys;
}

/** PTTL of every key, pipelined: ms left, -1 for no expiry, -2 for gone. */
export async function pttls(client: Redis, keys: string[]): Promise<number[]> {
  const pipeline = client.pipeline();
  for (const key of keys) pipeline.pttl(key);
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([error, value]) => {
    if (error) throw error;
    return Number(value);
  });
}

async function clientsCheck(
  client: Redis,
  connected: number | undefined,
  rejected: number | undefined,
): Promise<DoctorCheck> {
  const maxclients = await configGet(client, 'maxclients');
  if (connected === undefined) return unknown('connections', 'INFO has no connected_clients');
  if ('refused' in maxclients) return unknown('connections', `${connected} clients; ${maxclients.refused}`);
  const max = Number(maxclients.value);
  const read = `${connected} of ${max} clients, ${rejected ?? 'unknown'} rejected since start`;
  if ((rejected ?? 0) > 0) {
    return warn(
      'connections',
      read,
      'the server refused connections at maxclients; raise maxclients or shrink the clients’ pools',
    );
  }
  if (connected / max >= LIMITS.connectionsWarn) {
    return warn('connections', read, 'near maxclients; raise it or shrink the clients’ pools');
  }
  return pass('connections', read);
}

function evictionsCheck(evicted: number | undefined): DoctorCheck {
  if (evicted === undefined) return unknown('evictions', 'INFO has no evicted_keys');
  return pass(
    'evictions',
    `${evicted} keys evicted since start${evicted > 0 ? ' (an LRU cache making room)' : ''}`,
  );
}

async function latencyCheck(client: Redis, pings: number): Promise<DoctorCheck> {
  const samples: number[] = [];
  for (let i = 0; i < pings; i++) {
    const started = performance.now();
    await client.ping();
    samples.push(performance.now() - started);
  }
  const { p50, p99 } = quantiles(samples);
  const read = `PING p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms over ${pings}`;
  return p99 <= LIMITS.latencyMs
    ? pass('latency', read)
    : warn(
        'latency',
        read,
        'above the 5 ms target for a cache hit; move the app closer to Redis or find what blocks it (SLOWLOG)',
      );
}

function versionCheck(version: string | undefined): DoctorCheck {
  if (version === undefined) return unknown('version', 'INFO has no redis_version');
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 6 || (major === 6 && minor >= 2)
    ? pass('version', `redis ${version}`)
    : warn('version', `redis ${version}`, 'upgrade to 6.2 or later for ACLs, TLS and GETEX');
}
