import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCache, MemoryStore } from '@larder/core';
import { ChaosStore } from '@larder/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { healthHandler } from '../src/index.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))));
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
}

describe('healthHandler', () => {
  it('answers 200 with the checks as JSON for a healthy cache', async () => {
    const cache = createCache();
    const response = await fetch(await serve(healthHandler(cache)));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    const body = (await response.json()) as { status: string; checks: { name: string }[] };
    expect(body.status).toBe('ok');
    expect(body.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['hit-rate', 'memory', 'store']));
  });

  it('answers 503 when the store does not answer', async () => {
    const chaos = new ChaosStore(new MemoryStore());
    const cache = createCache({ store: chaos, timeout: 50, logger: { warn() {}, error() {} } });
    chaos.mode = 'hang';
    const response = await fetch(await serve(healthHandler(cache)));
    expect(response.status).toBe(503);
    expect(((await response.json()) as { status: string }).status).toBe('fail');
    chaos.release();
  });

  it('answers 503 on a warning only when asked to', async () => {
    const cache = createCache();
    await cache.set('hot', 1);
    for (let i = 0; i < 1000; i++) await cache.get(`cold${i}`);
    expect((await fetch(await serve(healthHandler(cache)))).status).toBe(200);
    expect((await fetch(await serve(healthHandler(cache, { failOnWarn: true })))).status).toBe(503);
  });
});
