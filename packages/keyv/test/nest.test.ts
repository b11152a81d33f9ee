import 'reflect-metadata';
import { createCache } from '@larder/core';
import { randomPrefix } from '@larder/testkit/helpers';
import { CACHE_MANAGER, CacheModule } from '@nestjs/cache-manager';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Cache as CacheManager } from 'cache-manager';
import { expect, it } from 'vitest';
import { createKeyv } from '../src/index.js';

it('NestJS CacheModule runs on a Larder cache through the Keyv adapter', async () => {
  const larder = createCache({ prefix: randomPrefix('nest') });
  class AppModule {}
  Module({ imports: [CacheModule.register({ stores: [createKeyv(larder)], ttl: 60_000 })] })(AppModule);

  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  try {
    const cache = app.get<CacheManager>(CACHE_MANAGER);
    await cache.set('greeting', { text: 'hello' });
    expect(await cache.get('greeting')).toEqual({ text: 'hello' });
    expect(await larder.namespace('keyv').has('greeting')).toBe(true);
    const ttl = await larder.namespace('keyv').ttl('greeting');
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  } finally {
    await app.close();
  }
});
