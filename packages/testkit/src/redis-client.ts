import { Redis } from 'ioredis';
import { answerWithin } from './errors.js';
import type { Endpoint } from './handle.js';

/** A Redis endpoint with optional credentials (ACL user or `requirepass`). */
export interface RedisEndpoint extends Endpoint {
  username?: string | undefined;
  password?: string | undefined;
}

/**
 * Opens one ioredis connection (no retries, no offline queue), runs `work` on it and closes it.
 * Rejects with the connection's error (ECONNREFUSED, NOAUTH, …) or a NoReplyError after `timeoutMs`.
 */
export async function withRedis<T>(
  endpoint: RedisEndpoint,
  work: (client: Redis) => Promise<T>,
  timeoutMs = 2_000,
): Promise<T> {
  const client = new Redis({
    host: endpoint.host,
    port: endpoint.port,
    username: endpoint.username,
    password: endpoint.password,
    // the throwaway certificates are issued for localhost
    tls: endpoint.tls ? { servername: 'localhost', ...endpoint.tls } : undefined,
    // RESP2: no HELLO at connect, so an unauthenticated connection stays open and each
    // command gets its own NOAUTH reply
    protocol: 2,
    lazyConnect: true,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
  });
  client.on('error', () => {}); // the failure reaches the caller through the rejected call
  try {
    return await answerWithin(
      client.connect().then(() => work(client)),
      endpoint,
      timeoutMs,
    );
  } finally {
    client.disconnect();
  }
}

/** `INFO server`'s `redis_version`; rejects on an error reply (NOAUTH, WRONGPASS, …). */
export function redisVersion(endpoint: RedisEndpoint, timeoutMs = 2_000): Promise<string> {
  return withRedis(
    endpoint,
    async (client) => {
      const match = /^redis_version:(.+)$/m.exec(await client.info('server'));
      if (!match?.[1]) throw new Error('INFO server did not report redis_version');
      return match[1].trim();
    },
    timeoutMs,
  );
}
