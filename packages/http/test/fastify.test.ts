import { type CacheLogger, createCache } from '@larder/core';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { fastifyPageCache, varyOn } from '../src/index.js';
import { send } from './client.js';

const quietLogger: CacheLogger = { warn: () => {}, error: () => {} };
const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function start(build: (app: FastifyInstance) => void, options: { global?: boolean } = {}) {
  const cache = createCache({ logger: quietLogger });
  const app = Fastify();
  apps.push(app);
  await app.register(fastifyPageCache, { cache, ...options });
  const runs = new Map<string, number>();
  app.addHook('preHandler', async (request) => {
    const path = request.url.split('?')[0] as string;
    runs.set(path, (runs.get(path) ?? 0) + 1);
  });
  build(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { port, runsOf: (path: string) => runs.get(path) ?? 0 };
}

describe('fastifyPageCache', () => {
  it('caches routes that set pageCache, with their own ttl, and leaves the others alone', async () => {
    const { port, runsOf } = await start((app) => {
      app.get('/cached', { pageCache: { ttl: '1m' } }, async (_request, reply) => {
        reply.type('text/html');
        return '<p>cached</p>';
      });
      app.get('/plain', async () => 'plain');
    });
    expect((await send(port, '/cached')).headers['x-cache']).toBe('MISS');
    const hit = await send(port, '/cached');
    expect([hit.body, hit.headers['x-cache'], hit.headers['content-type']]).toEqual([
      '<p>cached</p>',
      'HIT',
      'text/html',
    ]);
    expect(hit.headers['server-timing']).toMatch(/cache;desc="HIT"/);
    const head = await send(port, '/cached', {}, 'HEAD');
    expect([head.headers['x-cache'], head.body]).toEqual(['HIT', '']);
    expect((await send(port, '/cached', { 'If-None-Match': hit.headers.etag as string })).status).toBe(304);
    await send(port, '/plain');
    const plain = await send(port, '/plain');
    expect(plain.headers['x-cache']).toBeUndefined();
    expect(runsOf('/cached')).toBe(1);
    expect(runsOf('/plain')).toBe(2);
  });

  it('with global: true caches every GET route except those that opt out, and keeps users apart', async () => {
    const { port, runsOf } = await start(
      (app) => {
        app.get('/lang', async (request, reply) => {
          varyOn(reply, 'Accept-Language');
          return `lang=${request.headers['accept-language']}`;
        });
        app.get('/me', async (request, reply) => {
          reply.header('Set-Cookie', 'seen=1');
          return `me=${request.headers.cookie}`;
        });
        app.get('/out', { pageCache: false }, async () => 'out');
      },
      { global: true },
    );
    await send(port, '/lang', { 'Accept-Language': 'fr' });
    expect((await send(port, '/lang', { 'Accept-Language': 'fr' })).headers['x-cache']).toBe('HIT');
    expect((await send(port, '/lang', { 'Accept-Language': 'de' })).body).toBe('lang=de');
    expect((await send(port, '/me', { Cookie: 'sid=A' })).headers['x-cache']).toBe('BYPASS');
    expect((await send(port, '/me', { Cookie: 'sid=B' })).body).toBe('me=sid=B');
    await send(port, '/out');
    expect((await send(port, '/out')).headers['x-cache']).toBeUndefined();
    expect(runsOf('/lang')).toBe(2);
    expect(runsOf('/me')).toBe(2);
  });

  it('throws at set-up naming a bad plugin or route option', async () => {
    const cache = createCache({ logger: quietLogger });
    const bad = Fastify();
    apps.push(bad);
    await expect(bad.register(fastifyPageCache, { cache, ttl: -1 })).rejects.toThrow(
      /fastifyPageCache option ttl/,
    );
    const badRoute = Fastify();
    apps.push(badRoute);
    await badRoute.register(fastifyPageCache, { cache });
    expect(() => badRoute.get('/x', { pageCache: { ttl: 'soon' as never } }, async () => 'x')).toThrow(
      /pageCache of route \/x ttl/,
    );
  });
});
