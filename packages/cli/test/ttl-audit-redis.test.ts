import { randomPrefix } from '@larder/testkit/helpers';
import { useServer } from '@larder/testkit/vitest';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ttlAudit } from '../src/index.js';
import { ensureBuilt, larder } from './bin.js';

const url = useServer('redis').url;
const prefix = randomPrefix('ttlaudit');
const client = new Redis(url);

beforeAll(async () => {
  ensureBuilt();
  const pipeline = client.pipeline();
  for (let i = 0; i < 30; i++) pipeline.set(`${prefix}:1:short${i}`, 'v', 'PX', 30_000);
  for (let i = 0; i < 20; i++) pipeline.set(`${prefix}:1:long${i}`, 'v', 'PX', 2 * 86_400_000);
  for (let i = 0; i < 5; i++) pipeline.set(`${prefix}:2:forever${i}`, 'v');
  await pipeline.exec();
}, 120_000);

afterAll(async () => {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await client.unlink(...keys);
  } while (cursor !== '0');
  client.disconnect();
});

describe('larder ttl-audit against Redis', () => {
  it('samples one prefix with SCAN + PTTL into a TTL histogram, keys without expiry and prefixes', async () => {
    const audit = await ttlAudit(url, { prefix: `${prefix}:` });
    expect(audit.sampled).toBe(55);
    const count = (label: string) => audit.buckets.find((b) => b.label === label)?.count;
    expect(count('< 1 min')).toBe(30);
    expect(count('1 – 7 d')).toBe(20);
    expect(count('no expiry')).toBe(5);
    expect(audit.withoutExpiry.count).toBe(5);
    expect(audit.withoutExpiry.sample.every((key) => key.startsWith(`${prefix}:2:forever`))).toBe(true);
    expect(audit.prefixes).toEqual([
      { prefix: `${prefix}:1:`, count: 50 },
      { prefix: `${prefix}:2:`, count: 5 },
    ]);
  });

  it('stops at --sample keys, and prints a terminal histogram from the bin', async () => {
    expect((await ttlAudit(url, { prefix: `${prefix}:`, sample: 10 })).sampled).toBe(10);
    const run = await larder(['ttl-audit', url, '--prefix', `${prefix}:`]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^< 1 min +30 +█{40}$/m);
    expect(run.stdout).toMatch(/keys without expiry: 5/);
  });
});
