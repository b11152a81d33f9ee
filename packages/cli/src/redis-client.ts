import { CacheAuthError, CacheUnavailableError } from '@larder/core';
import { Redis } from 'ioredis';
import type { Target } from './target.js';

/** Options for the doctor's Redis connections. */
export interface RedisConnectOptions {
  /** Connect without the URL's credentials (to test whether the server lets anyone in). */
  anonymous?: boolean;
  /** Accept a TLS certificate that does not verify (a self-signed test server). */
  insecure?: boolean;
  timeoutMs?: number;
}

/**
 * One plain ioredis connection that fails at once instead of retrying: the doctor reads a
 * server, it does not wait for one. Connection and AUTH failures become one-line errors
 * without the password.
 */
export async function connectRedis(target: Target, options: RedisConnectOptions = {}): Promise<Redis> {
  const url = new URL(target.raw);
  const client = new Redis({
    host: target.host,
    port: target.port,
    username: options.anonymous ? undefined : decodeURIComponent(url.username) || undefined,
    password: options.anonymous ? undefined : target.secret || undefined,
    db: Number(url.pathname.slice(1) || 0),
    tls:
      url.protocol === 'rediss:'
        ? { rejectUnauthorized: !options.insecure, servername: target.host }
        : undefined,
    lazyConnect: true,
    connectTimeout: options.timeoutMs ?? 3000,
    commandTimeout: options.timeoutMs ?? 3000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    // Auth is checked explicitly below; an early INFO would mask NOAUTH as a connect failure.
    enableReadyCheck: false,
  });
  // Errors reach the caller through the rejected promises; the event would only print them again.
  let socketError: unknown;
  client.on('error', (error) => {
    socketError ??= error;
  });
  try {
    await client.connect();
    if (!options.anonymous) await client.ping();
  } catch (error) {
    client.disconnect();
    // ioredis rejects with "Connection is closed"; the socket's own error says why.
    throw describeRedisFailure(
      target,
      /Connection is closed/.test(String((error as Error)?.message)) ? (socketError ?? error) : error,
    );
  }
  return client;
}

/** A driver failure as a one-line, secret-free error. */
export function describeRedisFailure(target: Target, error: unknown): Error {
  const message = (error as Error)?.message ?? String(error);
  if (/WRONGPASS|invalid password|invalid username-password/i.test(message)) {
    return new CacheAuthError(
      `authentication failed for ${target.shown}; check the password (and user) in the URL`,
    );
  }
  if (/NOAUTH/i.test(message)) {
    return new CacheAuthError(
      `${target.shown} requires a password; put it in the URL as redis://:password@host:port`,
    );
  }
  return new CacheUnavailableError(
    `cannot reach redis at ${target.host}:${target.port} (${firstLine(message)}); check the host, the port and that the server runs`,
  );
}

function firstLine(text: string): string {
  return text.split('\n')[0]?.replace(/\s+/g, ' ').trim() ?? '';
}

/** `INFO` parsed into `field → value` (all sections). */
export async function readInfo(client: Redis): Promise<Map<string, string>> {
  const text = await client.info('everything');
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** A CONFIG GET value, or why the server would not tell (an ACL without +config, a managed Redis). */
export async function configGet(
  client: Redis,
  name: string,
): Promise<{ value: string } | { refused: string }> {
  try {
    const reply = (await client.config('GET', name)) as string[];
    const value = reply[1];
    return value === undefined ? { refused: `CONFIG GET ${name} returned nothing` } : { value };
  } catch (error) {
    return { refused: `the server refused CONFIG GET ${name}: ${firstLine((error as Error).message)}` };
  }
}
