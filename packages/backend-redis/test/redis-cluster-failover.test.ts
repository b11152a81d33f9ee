import { createCache } from '@larder/core';
import {
  type RedisClusterHandle,
  type RedisClusterShard,
  startRedisCluster,
  withRedis,
} from '@larder/testkit';
import { randomPrefix } from '@larder/testkit/helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { type RedisStore, redisStore } from '../src/index.js';
import { expectResumed, runFailover } from './failover.js';
import { quietLogger } from './helpers.js';

const TIMEOUT = 500;
const NODE_TIMEOUT = 1000;

describe('Cluster failover under load', () => {
  let cluster: RedisClusterHandle | undefined;
  let store: RedisStore | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await cluster?.stop();
    cluster = undefined;
  });

  it('a master SIGKILLed → its replica takes over → Larder resumes; no error reaches a caller, every call within its deadline', async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: NODE_TIMEOUT });
    const running = cluster;
    store = redisStore({ cluster: running.nodes, timeout: TIMEOUT, logger: quietLogger() });
    const cache = createCache({
      store,
      prefix: randomPrefix('clf'),
      timeout: TIMEOUT,
      logger: { warn: () => {}, error: () => {} },
    });
    const shards = await running.shards();
    expect(shards).toHaveLength(3);
    expect(shards.every((shard) => shard.replicas.length === 1)).toBe(true);
    const victim = shards[0]!;
    let takeover: RedisClusterShard | undefined;
    const run = await runFailover(cache, {
      prefix: 'k',
      timeoutMs: TIMEOUT,
      fault: () => victim.master.kill(),
      promoted: async () => {
        takeover = await running.waitForFailover(victim, 20_000);
      },
    });
    expect(takeover?.master).toBe(victim.replicas[0]);
    expectResumed(run, `Cluster, one of 3 masters SIGKILLed, cluster-node-timeout ${NODE_TIMEOUT}`);
    // the load wrote to the promoted node after the takeover, and reads back the latest values
    const promoted = takeover!.master;
    expect(await withRedis(promoted, (client) => client.dbsize())).toBeGreaterThan(0);
    const late = [...run.written].filter(([, write]) => write.at > run.promotedAt);
    expect(late.length).toBeGreaterThan(0);
    for (const [key, write] of late) expect(await cache.get<string>(key)).toBe(write.value);
  }, 40_000);
});
