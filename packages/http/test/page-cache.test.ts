import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { CacheConfigError, type CacheLogger, createCache, InvalidTtlError } from '@larder/core';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { cacheControl, cachePage, invalidatePage, neverCache, pageCache, varyOn } from '../src/index.js';
import { close, listen, send } from './client.js';

const quietLogger: CacheLogger = { warn: () => {}, error: () => {} };
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map(close));
});

type Handler = (req: IncomingMessage, res: ServerResponse) => unknown;

/** A node:http app behind cachePage; `runs` counts handler runs per path. */
async function app(handler: Handler, options: Partial<Parameters<typeof cachePage>[1]> = {}) {
  const cache = createCache({ logger: quietLogger });
  const runs = new Map<string, number>();
  const server = createServer(
    cachePage(
      (req, res) => {
        const path = (req.url ?? '/').split('?')[0] as string;
        runs.set(path, (runs.get(path) ?? 0) + 1);
        return handler(req, res);
      },
      { cache, ...options },
    ),
  );
  servers.push(server);
  const port = await listen(server);
  return { cache, port, runs, runsOf: (path: string) => runs.get(path) ?? 0 };
}

const page =
  (text: string, headers: Record<string, string> = {}) =>
  (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'Content-Type': 'text/html', ...headers });
    res.end(text);
  };

describe('page cache: what is cached and how it is served', () => {
  it('serves the second GET from the cache with X-Cache, Age, a strong ETag and Server-Timing', async () => {
    const { port, runsOf } = await app(page('<h1>catalogue</h1>'));
    const first = await send(port, '/list');
    expect(first.headers['x-cache']).toBe('MISS');
    expect(first.headers['server-timing']).toMatch(/^cache;desc="MISS";dur=[\d.]+$/);
    const second = await send(port, '/list');
    expect(second.body).toBe('<h1>catalogue</h1>');
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.headers['content-type']).toBe('text/html');
    expect(second.headers.age).toBe('0');
    expect(second.headers.etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    expect(second.headers['server-timing']).toMatch(/^cache;desc="HIT";dur=[\d.]+$/);
    expect(runsOf('/list')).toBe(1);
  });

  it('answers If-None-Match and If-Modified-Since with 304 from the cache', async () => {
    const modified = new Date(Date.now() - 60_000).toUTCString();
    const { port } = await app(page('body', { 'Last-Modified': modified }));
    await send(port, '/p');
    const hit = await send(port, '/p');
    const etag = hit.headers.etag as string;
    const byTag = await send(port, '/p', { 'If-None-Match': `"other", W/${etag}` });
    expect(byTag.status).toBe(304);
    expect(byTag.body).toBe('');
    expect(byTag.headers.etag).toBe(etag);
    expect((await send(port, '/p', { 'If-None-Match': '"other"' })).status).toBe(200);
    expect((await send(port, '/p', { 'If-Modified-Since': new Date().toUTCString() })).status).toBe(304);
    const older = new Date(Date.now() - 3_600_000).toUTCString();
    expect((await send(port, '/p', { 'If-Modified-Since': older })).status).toBe(200);
  });

  it('keeps a strong ETag the handler set, and answers HEAD from the GET entry', async () => {
    const { port, runsOf } = await app(page('x', { ETag: '"v42"' }));
    expect((await send(port, '/h', {}, 'HEAD')).headers['x-cache']).toBe('BYPASS');
    await send(port, '/h');
    const head = await send(port, '/h', {}, 'HEAD');
    expect(head.headers['x-cache']).toBe('HIT');
    expect(head.headers.etag).toBe('"v42"');
    expect(head.headers['content-length']).toBe('1');
    expect(head.body).toBe('');
    expect(runsOf('/h')).toBe(2);
  });

  it('keys on the canonical query order and on the Host', async () => {
    const { port, runsOf } = await app((req, res) => res.end(`${req.headers.host} ${req.url}`));
    await send(port, '/q?b=2&a=1');
    const reordered = await send(port, '/q?a=1&b=2');
    expect(reordered.headers['x-cache']).toBe('HIT');
    expect(reordered.body).toContain('/q?b=2&a=1');
    const otherHost = await send(port, '/q?a=1&b=2', { Host: 'evil.example' });
    expect(otherHost.headers['x-cache']).toBe('MISS');
    expect(otherHost.body).toContain('evil.example');
    const forwarded = await send(port, '/q?a=1&b=2', { 'X-Forwarded-Host': 'evil.example' });
    expect(forwarded.headers['x-cache']).toBe('MISS');
    expect(runsOf('/q')).toBe(3);
  });

  it('learns Vary per URL and keeps one entry per header value', async () => {
    const { port, runsOf } = await app((req, res) => {
      varyOn(res, 'Accept-Language');
      res.end(`lang=${req.headers['accept-language']}`);
    });
    await send(port, '/v', { 'Accept-Language': 'fr' });
    await send(port, '/v', { 'Accept-Language': 'de' });
    const fr = await send(port, '/v', { 'Accept-Language': 'fr' });
    const de = await send(port, '/v', { 'Accept-Language': 'de' });
    expect([fr.body, fr.headers['x-cache']]).toEqual(['lang=fr', 'HIT']);
    expect([de.body, de.headers['x-cache']]).toEqual(['lang=de', 'HIT']);
    expect(fr.headers.vary).toBe('Accept-Language');
    expect(runsOf('/v')).toBe(2);
  });

  it('keys on the vary option even when the response does not name it', async () => {
    const { port, runsOf } = await app((req, res) => res.end(`t=${req.headers['x-tenant']}`), {
      vary: ['X-Tenant'],
    });
    await send(port, '/t', { 'X-Tenant': 'a' });
    const b = await send(port, '/t', { 'X-Tenant': 'b' });
    expect(b.body).toBe('t=b');
    expect((await send(port, '/t', { 'X-Tenant': 'a' })).body).toBe('t=a');
    expect(runsOf('/t')).toBe(2);
  });

  it.each([
    ['Set-Cookie', (res: ServerResponse) => res.setHeader('Set-Cookie', 'sid=abc')],
    ['Cache-Control: private', (res: ServerResponse) => cacheControl(res, { private: true })],
    ['Cache-Control: no-store', (res: ServerResponse) => res.setHeader('Cache-Control', 'no-store')],
    ['Cache-Control: no-cache', (res: ServerResponse) => res.setHeader('Cache-Control', 'no-cache')],
    ['neverCache', (res: ServerResponse) => neverCache(res)],
    ['Vary: *', (res: ServerResponse) => res.setHeader('Vary', '*')],
    ['max-age=0', (res: ServerResponse) => res.setHeader('Cache-Control', 'public, max-age=0')],
    ['status 404', (res: ServerResponse) => (res.statusCode = 404)],
    ['status 500', (res: ServerResponse) => (res.statusCode = 500)],
  ])('never stores a response with %s', async (_label, mark) => {
    const { port, runsOf, cache } = await app((_req, res) => {
      mark(res);
      res.end('secret');
    });
    const first = await send(port, '/n');
    expect(first.headers['x-cache']).toBe('BYPASS');
    const second = await send(port, '/n');
    expect(second.headers['x-cache']).toBe('BYPASS');
    expect(runsOf('/n')).toBe(2);
    const keys: string[] = [];
    for await (const key of cache.keys()) keys.push(key);
    expect(keys.filter((key) => key.startsWith('page:'))).toEqual([]);
  });

  it('passes oversized bodies through uncached', async () => {
    const big = 'x'.repeat(2048);
    const { port, runsOf } = await app(
      (_req, res) => {
        res.write(big.slice(0, 1000));
        res.end(big.slice(1000));
      },
      { maxBodyBytes: 1024 },
    );
    expect((await send(port, '/big')).body).toBe(big);
    expect((await send(port, '/big')).body).toBe(big);
    expect(runsOf('/big')).toBe(2);
  });

  it('does not cache methods other than GET and HEAD', async () => {
    const { port, runsOf } = await app(page('ok'));
    expect((await send(port, '/m', {}, 'POST')).headers['x-cache']).toBe('BYPASS');
    await send(port, '/m', {}, 'POST');
    expect(runsOf('/m')).toBe(2);
  });

  it('never stores or serves across credentials unless the page varies on them or is shared', async () => {
    const { port, runsOf } = await app((req, res) => res.end(`for ${req.headers.cookie ?? 'anon'}`));
    expect((await send(port, '/c', { Cookie: 'sid=A' })).headers['x-cache']).toBe('BYPASS');
    expect((await send(port, '/c', { Authorization: 'Bearer A' })).headers['x-cache']).toBe('BYPASS');
    await send(port, '/c'); // anonymous: stored
    expect((await send(port, '/c')).headers['x-cache']).toBe('HIT');
    const withCookie = await send(port, '/c', { Cookie: 'sid=B' });
    expect(withCookie.body).toBe('for sid=B');
    expect(withCookie.headers['x-cache']).toBe('BYPASS');
    expect(runsOf('/c')).toBe(4);
  });

  it('caches per cookie when the page varies on Cookie, and across users when shared', async () => {
    const varied = await app((req, res) => {
      varyOn(res, 'Cookie');
      res.end(`for ${req.headers.cookie}`);
    });
    await send(varied.port, '/me', { Cookie: 'sid=A' });
    const a = await send(varied.port, '/me', { Cookie: 'sid=A' });
    const b = await send(varied.port, '/me', { Cookie: 'sid=B' });
    expect([a.body, a.headers['x-cache']]).toEqual(['for sid=A', 'HIT']);
    expect([b.body, b.headers['x-cache']]).toEqual(['for sid=B', 'MISS']);
    const shared = await app(page('same for all'), { shared: true });
    await send(shared.port, '/s', { Cookie: 'sid=A' });
    expect((await send(shared.port, '/s', { Cookie: 'sid=B' })).headers['x-cache']).toBe('HIT');
  });

  it('caps the TTL with s-maxage / max-age', async () => {
    const { port, cache } = await app(page('short', { 'Cache-Control': 'public, max-age=600, s-maxage=2' }));
    await send(port, '/ttl');
    let ttl: number | undefined;
    for await (const key of cache.keys()) if (key.startsWith('page:')) ttl = await cache.ttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(2000);
  });

  it('drops every variant of a URL with invalidatePage', async () => {
    let version = 1;
    const { port, cache } = await app((req, res) => {
      varyOn(res, 'Accept-Language');
      res.end(`v${version} ${req.headers['accept-language']}`);
    });
    await send(port, '/inv?x=1', { 'Accept-Language': 'en' });
    await send(port, '/inv?x=1', { 'Accept-Language': 'fr' });
    version = 2;
    expect((await send(port, '/inv?x=1', { 'Accept-Language': 'fr' })).body).toBe('v1 fr');
    expect(await invalidatePage(cache, 'http://any.host/inv?x=1')).toBe(true);
    expect((await send(port, '/inv?x=1', { 'Accept-Language': 'fr' })).body).toBe('v2 fr');
    expect((await send(port, '/inv?x=1', { 'Accept-Language': 'en' })).body).toBe('v2 en');
    await expect(invalidatePage(cache, 'not a url')).rejects.toThrow(CacheConfigError);
  });

  it('runs the handler once for concurrent misses of one cold page', async () => {
    const { port, runsOf } = await app(async (_req, res) => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      res.end('slow page');
    });
    const replies = await Promise.all(Array.from({ length: 10 }, () => send(port, '/slow')));
    expect(replies.every((reply) => reply.body === 'slow page' && reply.status === 200)).toBe(true);
    expect(runsOf('/slow')).toBe(1);
    expect(replies.filter((reply) => reply.headers['x-cache'] === 'HIT')).toHaveLength(9);
  });

  it('lets waiters run the handler themselves after waitTimeout', async () => {
    const { port, runsOf } = await app(
      async (_req, res) => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        res.end('very slow');
      },
      { waitTimeout: 50 },
    );
    const replies = await Promise.all(Array.from({ length: 3 }, () => send(port, '/vs')));
    expect(replies.map((reply) => reply.body)).toEqual(['very slow', 'very slow', 'very slow']);
    expect(runsOf('/vs')).toBe(3);
  });
});

describe('page cache: Express and options', () => {
  it("works as Express middleware and reports the request's cache operations", async () => {
    const cache = createCache({ logger: quietLogger });
    const web = express();
    web.get('/frag', pageCache({ cache, countCacheOps: true }), async (_req, res) => {
      await cache.getOrSet(cache.key('fragment', 'card', 1), () => '<li>1</li>');
      await cache.get('nothing-here');
      res.send('<ul>…</ul>');
    });
    const server = createServer(web);
    servers.push(server);
    const port = await listen(server);
    const miss = await send(port, '/frag');
    expect(miss.headers['server-timing']).toMatch(/cache-ops;desc="hits=0 misses=2"/);
    const hit = await send(port, '/frag');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body).toBe('<ul>…</ul>');
  });

  it('throws at set-up naming the bad option', () => {
    const cache = createCache({ logger: quietLogger });
    expect(() => pageCache({ cache, ttl: -1 })).toThrow(InvalidTtlError);
    expect(() => pageCache({ cache, ttl: -1 })).toThrow(/pageCache option ttl/);
    expect(() => pageCache({ cache, statuses: 200 as never })).toThrow(/statuses/);
    expect(() => pageCache({} as never)).toThrow(/option cache is required/);
    expect(() => pageCache({ cache: {} as never })).toThrow(/option cache must be a Larder Cache/);
    expect(() => pageCache({ cache, maxBodyBytes: 0 })).toThrow(/maxBodyBytes/);
    expect(() => pageCache({ cache, ttl: '5m', vary: ['bad header'] })).toThrow(/vary/);
    expect(() => pageCache({ cache, shraed: true } as never)).toThrow(/did you mean shared/);
    expect(() => cachePage(() => {}, { cache, header: 'X Cache' })).toThrow(/cachePage option header/);
  });

  it('turns the X-Cache header off or renames it', async () => {
    const off = await app(page('x'), { header: false });
    expect((await send(off.port, '/')).headers['x-cache']).toBeUndefined();
    const named = await app(page('x'), { header: 'X-Larder' });
    await send(named.port, '/');
    expect((await send(named.port, '/')).headers['x-larder']).toBe('HIT');
  });
});
