import { createRequire } from 'node:module';
import { describeWithServer } from '@larder/testkit/vitest';
import { Client, Server } from 'memjs';
import { describe, expect, it } from 'vitest';
import { MemcachedStore } from '../src/index.js';

/**
 * The store drives memjs through internals (src/connection.ts is the only file that does).
 * memjs is pinned to ~1.3.2; these tests fail naming the internal when a release changes one.
 */
const require = createRequire(import.meta.url);

describe('memjs internals the store relies on', () => {
  it('memjs is the 1.3 line the store was tested with', () => {
    const { version } = require('memjs/package.json') as { version: string };
    expect(version, `memjs ${version} is not 1.3.x: re-check src/connection.ts against it`).toMatch(
      /^1\.3\./,
    );
  });

  it.each(['write', 'onResponse', 'onError', 'error', 'respond'])('Server.prototype.%s exists', (method) => {
    expect(
      typeof (Server.prototype as unknown as Record<string, unknown>)[method],
      `memjs internal Server#${method} changed`,
    ).toBe('function');
  });

  it('Server#respond keeps a callback marked quiet until an answer with an empty body', () => {
    const server = new Server('127.0.0.1', 1) as unknown as {
      onResponse(seq: number, fn: unknown): void;
      respond(response: unknown): void;
      responseCallbacks: Record<number, unknown>;
    };
    expect(server.responseCallbacks, 'memjs internal Server#responseCallbacks changed').toBeTypeOf('object');
    const seen: number[] = [];
    const callback = Object.assign(
      (response: { header: { totalBodyLength: number } }) => {
        seen.push(response.header.totalBodyLength);
      },
      { quiet: true },
    );
    server.onResponse(7, callback);
    server.respond({ header: { opaque: 7, totalBodyLength: 5 } });
    server.respond({ header: { opaque: 7, totalBodyLength: 0 } });
    server.respond({ header: { opaque: 7, totalBodyLength: 3 } });
    expect(seen, 'memjs internal: the quiet flag of a response callback is no longer honoured').toEqual([
      5, 0,
    ]);
  });

  it('Server keeps host, port, username, password and options as fields', () => {
    const server = new Server('h', 2, 'u', 'p', { timeout: 1 }) as unknown as Record<string, unknown>;
    expect(server.host, 'memjs internal Server#host changed').toBe('h');
    expect(server.port, 'memjs internal Server#port changed').toBe(2);
    expect(server.username, 'memjs internal Server#username changed').toBe('u');
    expect(server.password, 'memjs internal Server#password changed').toBe('p');
    expect(server.options, 'memjs internal Server#options changed').toMatchObject({ timeout: 1 });
    // The store corks a server's socket only while memjs says it is connected.
    expect(server.connected, 'memjs internal Server#connected changed').toBe(false);
  });

  it('Client exposes seq, incrSeq() and a mutable servers array', () => {
    const client = new Client([new Server('127.0.0.1', 1)]) as unknown as {
      seq: number;
      incrSeq(): void;
      servers: unknown[];
    };
    const before = client.seq;
    expect(typeof before, 'memjs internal Client#seq changed').toBe('number');
    client.incrSeq();
    expect(client.seq, 'memjs internal Client#incrSeq no longer advances Client#seq').not.toBe(before);
    expect(Array.isArray(client.servers), 'memjs internal Client#servers is no longer an array').toBe(true);
    client.servers[0] = new Server('127.0.0.1', 2);
    expect(client.servers.length, 'memjs internal Client#servers cannot be replaced in place').toBe(1);
  });
});

describeWithServer('memcached', 'memjs internals on a live connection', (shared) => {
  it('Server#_socket holds the socket once a request was written', async () => {
    const store = new MemcachedStore({ servers: shared.url.replace(/^memcached:\/\//, '') });
    try {
      await store.get('memjs-internals-probe');
      const server = store.client.servers[0] as unknown as {
        _socket?: { destroy?: unknown };
        connected?: unknown;
      };
      expect(typeof server._socket?.destroy, 'memjs internal Server#_socket changed').toBe('function');
      expect(server.connected, 'memjs internal Server#connected is not set once connected').toBe(true);
    } finally {
      await store.close();
    }
  });
});
